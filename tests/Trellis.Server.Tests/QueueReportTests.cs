using System.Net;
using System.Text.Json;

namespace Trellis.Server.Tests;

/// <summary>/api/queues and the runs list by queue, against runs made for the test (a schema of its own).</summary>
public sealed class QueueReportTests(ApiServer server) : IClassFixture<ApiServer>
{
    [Fact]
    public async Task EachQueue_ShowsItsDepth_ItsLiveRuns_ItsFinishedRunsPerMinute_AndTheWorkersServingIt()
    {
        // The server's worker serves "api" (its default queue); nothing serves "parked", so its runs stay pending there.
        var done = new List<RunHandle>();
        for (var i = 0; i < 3; i++)
        {
            done.Add(await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(7_000_000 + i, false)));
        }

        TestWorkflows.Broken[7_100_000] = true;
        var failed = await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(7_100_000, true));
        var waiting = await server.Client.StartAsync<TestWorkflows.WaitForGo>(Guid.NewGuid().ToString("N"));
        for (var i = 0; i < 4; i++)
        {
            await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(7_200_000 + i, false), new StartOptions { Queue = "parked" });
        }

        await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(7_300_000, false), new StartOptions { Queue = "parked", Delay = TimeSpan.FromHours(1) });
        foreach (var run in done)
        {
            await run.GetResultAsync<int>(TimeSpan.FromSeconds(30));
        }

        await Assert.ThrowsAsync<RunFailedException>(() => failed.GetResultAsync<int>(TimeSpan.FromSeconds(30)));
        await Eventually.HoldsAsync(async () => (await waiting.GetAsync()).Status == RunStatus.Waiting, "the waiter waits");
        var reader = server.Http(ApiServer.ReadToken);

        var report = await ApiRunTests.Json(await reader.GetAsync("/api/queues?window=1h"));
        var api = Queue(report, "api");
        Assert.Equal((0, 0, 0, 1), (Int(api, "ready"), Int(api, "scheduled"), Int(api, "running"), Int(api, "waiting")));
        Assert.Equal((3, 1, 0), (Int(api, "completed"), Int(api, "failed"), Int(api, "cancelled")));
        Assert.Equal(1, Int(api, "workers"));
        Assert.True(Int(api, "workerSlots") > 0);

        var parked = Queue(report, "parked");
        Assert.Equal((4, 1, 0, 0), (Int(parked, "ready"), Int(parked, "scheduled"), Int(parked, "running"), Int(parked, "waiting")));
        Assert.Equal((0, 0), (Int(parked, "workers"), Int(parked, "completed")));
        Assert.InRange(parked.GetProperty("oldestReadySeconds").GetDouble(), 0, 300);
        Assert.Equal(0, api.GetProperty("oldestReadySeconds").GetDouble());

        var minutes = report.GetProperty("throughput").EnumerateArray().Where(m => m.GetProperty("queue").GetString() == "api").ToList();
        Assert.Equal((3, 1), (minutes.Sum(m => Int(m, "completed")), minutes.Sum(m => Int(m, "failed"))));
        Assert.DoesNotContain(report.GetProperty("throughput").EnumerateArray(), m => m.GetProperty("queue").GetString() == "parked");

        var list = await ApiRunTests.Json(await reader.GetAsync("/api/runs?queue=parked"));
        var runs = list.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(5, runs.Count);
        Assert.All(runs, r => Assert.Equal(("parked", "pending"), (r.GetProperty("queue").GetString(), r.GetProperty("status").GetString())));
        var finishedOnApi = await ApiRunTests.Json(await reader.GetAsync("/api/runs?queue=api&status=completed"));
        Assert.Equal(3, finishedOnApi.GetProperty("runs").GetArrayLength());
        Assert.Equal(0, (await ApiRunTests.Json(await reader.GetAsync("/api/runs?queue=nowhere"))).GetProperty("runs").GetArrayLength());

        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http(null).GetAsync("/api/queues")).StatusCode);
    }

    private static JsonElement Queue(JsonElement report, string name) =>
        report.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == name);

    private static int Int(JsonElement element, string name) => element.GetProperty(name).GetInt32();
}
