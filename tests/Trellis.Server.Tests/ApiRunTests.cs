using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Trellis.Server.Tests;

/// <summary>What an operator does through the API, end to end on a real database with a worker running the runs.</summary>
public sealed class ApiRunTests(ApiServer server) : IClassFixture<ApiServer>
{
    private readonly HttpClient _admin = server.Http(ApiServer.AdminToken);
    private readonly HttpClient _reader = server.Http(ApiServer.ReadToken);

    [Fact]
    public async Task AFailedRun_IsSeenWithItsStepDataAndError_RetriedByAnAdmin_AndCompletes()
    {
        var n = Random.Shared.Next(1_000, 1_000_000);
        TestWorkflows.Broken[n] = true;
        var started = await _admin.PostAsJsonAsync("/api/runs", new { workflow = "Steps", input = new { n, fail = true }, tags = new { suite = "api" } });
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        var id = (await Json(started)).GetProperty("id").GetString()!;
        Assert.EndsWith($"/api/runs/{id}", started.Headers.Location!.ToString(), StringComparison.Ordinal);

        var failed = await StatusAsync(id, "failed");
        Assert.Contains("second is broken", failed.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var steps = (await Json(await _reader.GetAsync($"/api/runs/{id}/steps"))).GetProperty("steps");
        Assert.Equal(("first", "completed", n), (steps[0].GetProperty("name").GetString(), steps[0].GetProperty("status").GetString(), steps[0].GetProperty("result").GetInt32()));
        Assert.Equal(("second", "failed"), (steps[1].GetProperty("name").GetString(), steps[1].GetProperty("status").GetString()));
        Assert.Contains("second is broken", steps[1].GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Forbidden, (await _reader.PostAsync($"/api/runs/{id}/retry", null)).StatusCode);
        TestWorkflows.Broken.TryRemove(n, out _);
        Assert.Equal(HttpStatusCode.OK, (await _admin.PostAsync($"/api/runs/{id}/retry", null)).StatusCode);
        var completed = await StatusAsync(id, "completed");
        Assert.Equal(n * 2 + 1, completed.GetProperty("output").GetInt32());

        var history = await Json(await _reader.GetAsync($"/api/runs/{id}/history"));
        var events = history.EnumerateArray().Select(h => h.GetProperty("event").GetString()).ToList();
        Assert.Contains("retry_requested", events);
        Assert.Equal("completed", events[^1]);

        // Retrying it again makes no sense now: a 409 problem that says so.
        var again = await _admin.PostAsync($"/api/runs/{id}/retry", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("only a failed run can be retried", (await Json(again)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AForkFromAStepName_RunsAgainFromThere_AndNamesItsSource()
    {
        var source = await StartAsync("Steps", new { n = 3, fail = false });
        await StatusAsync(source, "completed");
        var forked = await _admin.PostAsJsonAsync($"/api/runs/{source}/fork", new { fromStepName = "third" });
        Assert.Equal(HttpStatusCode.OK, forked.StatusCode);
        var fork = await Json(forked);
        Assert.Equal((source, 2), (fork.GetProperty("forkedFromRunId").GetString(), fork.GetProperty("forkedAtStep").GetInt32()));
        Assert.Equal(7, (await StatusAsync(fork.GetProperty("id").GetString()!, "completed")).GetProperty("output").GetInt32());
    }

    [Fact]
    public async Task AnEventPublishedThroughTheApi_WakesTheRunWaitingForIt()
    {
        var key = Guid.NewGuid().ToString("N");
        var id = await StartAsync("WaitForGo", key);
        await StatusAsync(id, "waiting");
        var published = await _admin.PostAsJsonAsync("/api/events", new { events = new[] { new { name = "go", key, data = "hello" }, new { name = "go", key = "other", data = "x" } } });
        Assert.Equal(HttpStatusCode.OK, published.StatusCode);
        var counts = await Json(published);
        Assert.Equal((2, 1), (counts.GetProperty("published").GetInt32(), counts.GetProperty("delivered").GetInt32()));
        Assert.Equal("hello", (await StatusAsync(id, "completed")).GetProperty("output").GetString());
    }

    [Fact]
    public async Task AParentsChildren_AreListed()
    {
        var id = await StartAsync("Parent", 10);
        Assert.Equal((10 * 2 + 1) + (11 * 2 + 1), (await StatusAsync(id, "completed")).GetProperty("output").GetInt32());
        var children = await Json(await _reader.GetAsync($"/api/runs/{id}/children"));
        Assert.Equal([$"{id}:0:0", $"{id}:0:1"], children.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        Assert.All(children.EnumerateArray(), c => Assert.Equal(id, c.GetProperty("parentRunId").GetString()));
    }

    [Fact]
    public async Task RunsAreListedByTag_NewestFirst_OnePageAtATime()
    {
        var batch = Guid.NewGuid().ToString("N");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await StartAsync("Steps", new { n = i, fail = false }, new { batch }));
        }

        var first = await Json(await _reader.GetAsync($"/api/runs?tag=batch={batch}&limit=2"));
        Assert.Equal([ids[2], ids[1]], first.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        var cursor = first.GetProperty("nextCursor").GetString();
        var second = await Json(await _reader.GetAsync($"/api/runs?tag=batch={batch}&limit=2&cursor={Uri.EscapeDataString(cursor!)}"));
        Assert.Equal([ids[0]], second.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.False(second.TryGetProperty("nextCursor", out _));
    }

    [Fact]
    public async Task Health_NeedsNoToken_AndReportsTheDatabaseAndSchemaVersion()
    {
        var response = await server.Http(null).GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var health = await Json(response);
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        var trellis = health.GetProperty("entries").GetProperty("trellis");
        Assert.True(trellis.GetProperty("data").GetProperty("schema_version").GetInt32() >= 16);
    }

    [Fact]
    public async Task LiveWorkers_AreListedWithTheirSlotsAndHeartbeat_AndAStoppedOneIsNot()
    {
        var builder = TestEngines.Builder(server.Database);
        builder.ConfigureWorker(w => (w.WorkerId, w.MaxConcurrentRuns) = ($"extra-{Guid.NewGuid():N}", 3));
        string extraId;
        await using (var extra = await builder.StartAsync())
        {
            extraId = extra.Worker!.WorkerId;
            var workers = await Json(await _reader.GetAsync("/api/workers"));
            var listed = workers.EnumerateArray().Single(w => w.GetProperty("workerId").GetString() == extraId);
            Assert.Equal((3, Environment.MachineName, Environment.ProcessId), (listed.GetProperty("slots").GetInt32(), listed.GetProperty("host").GetString(), listed.GetProperty("processId").GetInt32()));
            Assert.True(DateTimeOffset.Parse(listed.GetProperty("heartbeatAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-1));
            var health = await Json(await server.Http(null).GetAsync("/health"));
            Assert.Contains(health.GetProperty("entries").GetProperty("trellis").GetProperty("data").GetProperty("live_workers").EnumerateArray(),
                w => w.GetProperty("id").GetString() == extraId);
        }

        var after = await Json(await _reader.GetAsync("/api/workers"));
        Assert.DoesNotContain(after.EnumerateArray(), w => w.GetProperty("workerId").GetString() == extraId);
        Assert.NotEmpty(after.EnumerateArray()); // the server's own worker
    }

    [Fact]
    public async Task APerItemStep_IsListedWithItsItemsCounted_AndItsItemsArePaged()
    {
        TestWorkflows.Broken[-7] = true;
        var run = await server.Client.StartAsync<TestWorkflows.Pages>(7);
        await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync<int>(TimeSpan.FromSeconds(30)));
        TestWorkflows.Broken.TryRemove(-7, out _);

        var steps = await Json(await _reader.GetAsync($"/api/runs/{run.RunId}/steps"));
        var page = Assert.Single(steps.GetProperty("perItemSteps").EnumerateArray());
        Assert.Equal(("page", 0, 7, 6, 1, 0), (page.GetProperty("name").GetString(), page.GetProperty("sequence").GetInt32(), page.GetProperty("items").GetInt32(),
            page.GetProperty("completed").GetInt32(), page.GetProperty("failed").GetInt32(), page.GetProperty("running").GetInt32()));
        Assert.True(page.GetProperty("startedAt").GetDateTimeOffset() <= page.GetProperty("completedAt").GetDateTimeOffset());

        var texts = new List<string>();
        for (var after = -1; ;)
        {
            var items = await Json(await _reader.GetAsync($"/api/runs/{run.RunId}/steps?seq=0&after={after}&limit=3"));
            texts.AddRange(items.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("status").GetString() == "failed"
                ? i.GetProperty("error").GetProperty("message").GetString()! : i.GetProperty("result").GetString()!));
            if (!items.TryGetProperty("nextAfter", out var next) || next.ValueKind == JsonValueKind.Null)
            {
                break;
            }

            after = next.GetInt32();
        }

        Assert.Equal(["text of page 1", "text of page 2", "text of page 3", "text of page 4", "text of page 5", "text of page 6", "page 7 is torn"], texts);
    }

    [Fact]
    public async Task TheOpenApiDocument_DescribesEveryEndpoint()
    {
        var document = await Json(await server.Http(null).GetAsync("/openapi/v1.json"));
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var path in new[] { "/api/runs", "/api/runs/{id}", "/api/runs/{id}/steps", "/api/runs/{id}/history", "/api/runs/{id}/children",
                     "/api/runs/{id}/cancel", "/api/runs/{id}/retry", "/api/runs/{id}/resume", "/api/runs/{id}/fork", "/api/runs/{id}/messages", "/api/events",
                     "/api/stats", "/api/analytics", "/api/purge", "/api/workers", "/api/queues" })
        {
            Assert.Contains(path, paths);
        }
    }

    private async Task<string> StartAsync(string workflow, object input, object? tags = null)
    {
        var response = await _admin.PostAsJsonAsync("/api/runs", new { workflow, input, tags });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await Json(response)).GetProperty("id").GetString()!;
    }

    private async Task<JsonElement> StatusAsync(string id, string status)
    {
        JsonElement run = default;
        await Eventually.HoldsAsync(
            async () => (run = await Json(await _reader.GetAsync($"/api/runs/{id}"))).GetProperty("status").GetString() == status,
            $"run {id} is {status}", observed: () => run.ToString());
        return run;
    }

    internal static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
