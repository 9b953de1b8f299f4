using System.Net;
using System.Text.Json;

namespace Trellis.Server.Tests;

/// <summary>/api/stats and /api/analytics against runs made for the test (a schema of its own: nothing else runs in it).</summary>
public sealed class AnalyticsTests(ApiServer server) : IClassFixture<ApiServer>
{
    [Fact]
    public async Task TheFigures_CountTheTestsRuns_ByWorkflowTagAndOutcome_WithStepDurations()
    {
        var tags = new Dictionary<string, string> { ["team"] = "analytics" };
        var completed = new List<RunHandle>();
        for (var i = 0; i < 3; i++)
        {
            completed.Add(await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(5_000_000 + i, false), new StartOptions { Tags = tags }));
        }

        var failed = new List<RunHandle>();
        for (var i = 0; i < 2; i++)
        {
            TestWorkflows.Broken[6_000_000 + i] = true;
            failed.Add(await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(6_000_000 + i, true)));
        }

        var waiting = await server.Client.StartAsync<TestWorkflows.WaitForGo>(Guid.NewGuid().ToString("N"), new StartOptions { Tags = tags });
        foreach (var run in completed)
        {
            await run.GetResultAsync<int>(TimeSpan.FromSeconds(30));
        }

        foreach (var run in failed)
        {
            await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync<int>(TimeSpan.FromSeconds(30)));
        }

        await Eventually.HoldsAsync(async () => (await waiting.GetAsync()).Status == RunStatus.Waiting, "the waiter waits");
        var reader = server.Http(ApiServer.ReadToken);

        var analytics = await ApiRunTests.Json(await reader.GetAsync("/api/analytics?window=1h"));
        var steps = Figures(analytics.GetProperty("workflows"), "workflow", "Steps");
        Assert.Equal((0, 3, 2, 0), Counts(steps));
        Assert.Equal((1, 0, 0, 0), Counts(Figures(analytics.GetProperty("workflows"), "workflow", "WaitForGo")));
        var team = analytics.GetProperty("tags").EnumerateArray().Single(t => t.GetProperty("tagKey").GetString() == "team");
        Assert.Equal(("analytics", (1, 3, 0, 0)), (team.GetProperty("tagValue").GetString(), Counts(team)));

        var minutes = analytics.GetProperty("throughput").EnumerateArray().Where(m => m.GetProperty("workflow").GetString() == "Steps").ToList();
        Assert.Equal((3, 2), (minutes.Sum(m => m.GetProperty("completed").GetInt32()), minutes.Sum(m => m.GetProperty("failed").GetInt32())));
        var durations = analytics.GetProperty("steps").EnumerateArray().Where(s => s.GetProperty("workflow").GetString() == "Steps")
            .ToDictionary(s => s.GetProperty("step").GetString()!, s => s);
        Assert.Equal((5, 3, 3), (durations["first"].GetProperty("count").GetInt32(), durations["second"].GetProperty("count").GetInt32(), durations["third"].GetProperty("count").GetInt32()));
        Assert.All(durations.Values, d => Assert.True(d.GetProperty("p50Ms").GetDouble() >= 0 && d.GetProperty("p99Ms").GetDouble() <= d.GetProperty("maxMs").GetDouble() + 0.001));
        Assert.True(DateTimeOffset.Parse(analytics.GetProperty("at").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-1));

        var stats = await ApiRunTests.Json(await reader.GetAsync("/api/stats"));
        Assert.Equal(1, Count(stats.GetProperty("liveRuns"), "WaitForGo", "waiting"));
        Assert.Equal((3, 2), (Count(stats.GetProperty("finishedRuns"), "Steps", "completed"), Count(stats.GetProperty("finishedRuns"), "Steps", "failed")));
        Assert.Contains(stats.GetProperty("tables").EnumerateArray(), t => t.GetProperty("table").GetString() == "runs" && t.GetProperty("bytes").GetInt64() > 0);
        Assert.Contains("pg_stat_statements", stats.GetProperty("slowStatementsNote").GetString(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.BadRequest, (await reader.GetAsync("/api/analytics?window=90d")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http(null).GetAsync("/api/stats")).StatusCode);
    }

    private static JsonElement Figures(JsonElement list, string member, string value) =>
        list.EnumerateArray().Single(f => f.GetProperty(member).GetString() == value);

    private static (int, int, int, int) Counts(JsonElement figures) => (
        figures.GetProperty("active").GetInt32(), figures.GetProperty("completed").GetInt32(),
        figures.GetProperty("failed").GetInt32(), figures.GetProperty("cancelled").GetInt32());

    private static int Count(JsonElement counts, string workflow, string status) =>
        counts.EnumerateArray().Where(c => c.GetProperty("workflow").GetString() == workflow && c.GetProperty("status").GetString() == status)
            .Sum(c => c.GetProperty("count").GetInt32());
}
