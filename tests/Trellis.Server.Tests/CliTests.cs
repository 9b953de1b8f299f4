using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Trellis.Server.Tests;

/// <summary>The <c>trellis</c> command end to end against a real database: its tables, its JSON, its exit codes, and <c>serve</c>.</summary>
public sealed class CliTests(ApiServer server) : IClassFixture<ApiServer>
{
    private PostgresFixture Database => server.Database;

    [Fact]
    public async Task MigrateAndStatus_SayTheSchemaVersion_InTablesAndJson()
    {
        var migrate = await CliProcess.RunAsync(Database, "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.Error);
        Assert.Contains($"Schema {Database.Schema.Name} is at migration", migrate.Output, StringComparison.Ordinal);

        var status = await CliProcess.RunAsync(Database, "status", "--json");
        Assert.Equal(0, status.ExitCode);
        var json = JsonDocument.Parse(status.Output).RootElement;
        Assert.Equal((Database.Schema.Name, true), (json.GetProperty("schema").GetString(), json.GetProperty("healthy").GetBoolean()));
        Assert.True(json.GetProperty("version").GetInt32() >= 19);
        Assert.NotEmpty(json.GetProperty("workers").EnumerateArray()); // the fixture's worker

        var human = await CliProcess.RunAsync(Database, "status");
        Assert.Contains("Live workers", human.Output, StringComparison.Ordinal);
        Assert.Contains(Environment.MachineName, human.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedRun_IsListedAndShownWithItsError_RetriedFromTheCommand_AndForked()
    {
        var n = Random.Shared.Next(1_000_000, 2_000_000);
        TestWorkflows.Broken[n] = true;
        var run = await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(n, true), new StartOptions { Tags = new Dictionary<string, string> { ["cli"] = $"{n}" } });
        await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        var list = await CliProcess.RunAsync(Database, "runs", "list", "--tag", $"cli={n}");
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Contains(run.RunId, list.Output, StringComparison.Ordinal);
        Assert.Contains("failed", list.Output, StringComparison.Ordinal);
        var listed = JsonDocument.Parse((await CliProcess.RunAsync(Database, "runs", "list", "--tag", $"cli={n}", "--json")).Output).RootElement;
        Assert.Equal(("failed", run.RunId), (listed.GetProperty("runs")[0].GetProperty("status").GetString(), listed.GetProperty("runs")[0].GetProperty("id").GetString()));

        var show = await CliProcess.RunAsync(Database, "runs", "show", run.RunId);
        Assert.True(show.ExitCode == 0, show.Error);
        foreach (var expected in new[] { "first", "second", "second is broken", "claimed", "failed", $"{n}" })
        {
            Assert.Contains(expected, show.Output, StringComparison.Ordinal);
        }

        var shown = JsonDocument.Parse((await CliProcess.RunAsync(Database, "runs", "show", run.RunId, "--json")).Output).RootElement;
        var second = shown.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "second");
        Assert.Contains("second is broken", second.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        TestWorkflows.Broken.TryRemove(n, out _);
        var retry = await CliProcess.RunAsync(Database, "runs", "retry", run.RunId);
        Assert.True(retry.ExitCode == 0, retry.Error);
        Assert.Equal(n * 2 + 1, await server.Client.GetHandle<TestWorkflows.Steps>(run.RunId).GetResultAsync(TimeSpan.FromSeconds(30)));

        var again = await CliProcess.RunAsync(Database, "runs", "retry", run.RunId);
        Assert.Equal(4, again.ExitCode);
        Assert.Contains("only a failed run can be retried", again.Error, StringComparison.Ordinal);

        var stats = await CliProcess.RunAsync(Database, "stats", "--window", "1h");
        Assert.True(stats.ExitCode == 0, stats.Error);
        Assert.Contains("Steps", stats.Output, StringComparison.Ordinal);
        Assert.Contains("pg_stat_statements", stats.Output, StringComparison.Ordinal);

        var fork = await CliProcess.RunAsync(Database, "runs", "fork", run.RunId, "--from-step", "third", "--json");
        Assert.True(fork.ExitCode == 0, fork.Error);
        var forked = JsonDocument.Parse(fork.Output).RootElement;
        Assert.Equal((run.RunId, 2), (forked.GetProperty("forkedFromRunId").GetString(), forked.GetProperty("forkedAtStep").GetInt32()));
    }

    [Fact]
    public async Task Queues_ShowEachQueuesDepthAndWorkers_AndRunsAreListedByQueue()
    {
        var queue = $"cli-{Guid.NewGuid():N}"[..12];
        var parked = await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(9, false), new StartOptions { Queue = queue });

        var json = JsonDocument.Parse((await CliProcess.RunAsync(Database, "queues", "--json")).Output).RootElement;
        var figures = json.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == queue);
        Assert.Equal((1, 0), (figures.GetProperty("ready").GetInt32(), figures.GetProperty("workers").GetInt32()));
        Assert.True(json.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == "api").GetProperty("workers").GetInt32() >= 1);

        var human = await CliProcess.RunAsync(Database, "queues", "--window", "2h");
        Assert.True(human.ExitCode == 0, human.Error);
        Assert.Contains(queue, human.Output, StringComparison.Ordinal);
        Assert.Contains("none", human.Output, StringComparison.Ordinal); // no worker serves the parked queue
        Assert.Equal(2, (await CliProcess.RunAsync(Database, "queues", "--window", "lately")).ExitCode);

        var listed = JsonDocument.Parse((await CliProcess.RunAsync(Database, "runs", "list", "--queue", queue, "--json")).Output).RootElement;
        Assert.Equal(parked.RunId, listed.GetProperty("runs").EnumerateArray().Single().GetProperty("id").GetString());
    }

    [Fact]
    public async Task BadInput_UnknownRuns_AndUnknownCommands_HaveTheirExitCodes()
    {
        var missing = await CliProcess.RunAsync(Database, "runs", "show", "no-such-run", "--json");
        Assert.Equal(3, missing.ExitCode);
        Assert.Equal(3, JsonDocument.Parse(missing.Output).RootElement.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(2, (await CliProcess.RunAsync(Database, "runs", "list", "--status", "bogus")).ExitCode);
        Assert.Equal(2, (await CliProcess.RunAsync(Database, "runs", "list", "--since", "yesterday")).ExitCode);
        Assert.Equal(2, (await CliProcess.RunAsync(Database, "no-such-command")).ExitCode);
        var help = await CliProcess.RunAsync(Database, "runs", "list", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("trellis runs list [options]", help.Output, StringComparison.Ordinal); // the tool's name, not its assembly's
        Assert.Equal(2, (await CliProcess.RunAsync(Database, "events", "publish", "go", "k", "--data", "{not json")).ExitCode);
    }

    [Fact]
    public async Task Purge_DeletesOnlyWhatFinishedLongerAgoThanTheAge()
    {
        var run = await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(7, false));
        await run.GetResultAsync(TimeSpan.FromSeconds(30));
        await Database.ScalarAsync<int>("UPDATE {schema}.runs SET completed_at = now() - interval '40 days' WHERE id = $1 RETURNING 1", run.RunId);
        var young = await server.Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(8, false));
        await young.GetResultAsync(TimeSpan.FromSeconds(30));

        var purge = await CliProcess.RunAsync(Database, "purge", "--older-than", "30d", "--json");
        Assert.True(purge.ExitCode == 0, purge.Error);
        Assert.Equal(1, JsonDocument.Parse(purge.Output).RootElement.GetProperty("deleted").GetInt32());
        Assert.Null(await server.Client.GetRunAsync(run.RunId));
        Assert.NotNull(await server.Client.GetRunAsync(young.RunId));
        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM {schema}.steps WHERE run_id = $1", run.RunId));
        Assert.Equal(2, (await CliProcess.RunAsync(Database, "purge", "--older-than", "soon")).ExitCode);
    }

    [Fact]
    public async Task Demo_RunsTheMangaPipeline_AndItsRunIsThenShown()
    {
        var runId = $"manga-test-{Guid.NewGuid():N}";
        var demo = await CliProcess.RunAsync(Database, "demo", "--pages", "3", "--run-id", runId);
        Assert.True(demo.ExitCode == 0, demo.Output + demo.Error);
        Assert.Contains("trellis serve", demo.Output, StringComparison.Ordinal); // where to look at it next
        var shown = JsonDocument.Parse((await CliProcess.RunAsync(Database, "runs", "show", runId, "--json")).Output).RootElement;
        Assert.Equal("completed", shown.GetProperty("run").GetProperty("status").GetString());
        Assert.Equal(3, shown.GetProperty("steps").EnumerateArray().Count(s => s.GetProperty("name").GetString() == "OCR Analyzer"));

        // --schema (and --database-url) choose the demo's database as they do every command's.
        var otherSchema = $"{Database.Schema.Name}_demo";
        try
        {
            var elsewhere = await CliProcess.RunAsync(Database, "--schema", otherSchema, "demo", "--pages", "2", "--run-id", runId);
            Assert.True(elsewhere.ExitCode == 0, elsewhere.Output + elsewhere.Error);
            var there = JsonDocument.Parse((await CliProcess.RunAsync(Database, "--schema", otherSchema, "runs", "show", runId, "--json")).Output).RootElement;
            Assert.Equal(2, there.GetProperty("steps").EnumerateArray().Count(s => s.GetProperty("name").GetString() == "OCR Analyzer"));
        }
        finally
        {
            await Database.ScalarAsync<int>($"DROP SCHEMA IF EXISTS \"{otherSchema}\" CASCADE; SELECT 1");
        }

        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM pg_namespace WHERE nspname = $1", otherSchema));
    }

    [Fact]
    public async Task ServeWithWorkers_RunsADemoRunStartedThroughTheApi()
    {
        var chapter = MangaToVideo.PageTools.CreateSampleChapter(Path.Combine(Path.GetTempPath(), $"trellis-chapter-{Guid.NewGuid():N}"), 2);
        using var process = Process.Start(CliProcess.StartInfo(
            Database, "serve", "--urls", "http://127.0.0.1:0", "--admin-token", ApiServer.AdminToken, "--workers"))!;
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Contains("with a worker", line, StringComparison.Ordinal);
            using var http = new HttpClient { BaseAddress = new Uri(System.Text.RegularExpressions.Regex.Match(line!, @"http://127\.0\.0\.1:\d+").Value) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", ApiServer.AdminToken);
            var started = await http.PostAsync("/api/runs", new StringContent(
                JsonSerializer.Serialize(new { workflow = "MangaToVideoWorkflow", input = new { folder = chapter, outputFolder = chapter + "-out" } }),
                System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, started.StatusCode);
            var id = (await ApiRunTests.Json(started)).GetProperty("id").GetString()!;
            await Eventually.HoldsAsync(
                async () => (await ApiRunTests.Json(await http.GetAsync($"/api/runs/{id}"))).GetProperty("status").GetString() == "completed",
                "the serve process's worker completes the demo run", TimeSpan.FromSeconds(60));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task EventsPublish_WakesTheWaitingRun()
    {
        var key = Guid.NewGuid().ToString("N");
        var run = await server.Client.StartAsync<TestWorkflows.WaitForGo>(key);
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");
        var publish = await CliProcess.RunAsync(Database, "events", "publish", "go", key, "--data", "\"from the command line\"", "--json");
        Assert.True(publish.ExitCode == 0, publish.Error);
        Assert.Equal(1, JsonDocument.Parse(publish.Output).RootElement.GetProperty("delivered").GetInt32());
        Assert.Equal("from the command line", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Serve_AnswersHealthAndTheApiWithItsTokens_AndRefusesToBeOpenBeyondLoopback()
    {
        var refused = await CliProcess.RunAsync(Database, "serve", "--urls", "http://0.0.0.0:0");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--allow-open-remote", refused.Error, StringComparison.Ordinal);

        using var process = Process.Start(CliProcess.StartInfo(Database, "serve", "--urls", "http://127.0.0.1:0", "--read-token", ApiServer.ReadToken))!;
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            var url = System.Text.RegularExpressions.Regex.Match(line ?? "", @"http://127\.0\.0\.1:\d+").Value;
            Assert.False(string.IsNullOrEmpty(url), $"no URL in: {line}");
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/runs")).StatusCode);
            http.DefaultRequestHeaders.Authorization = new("Bearer", ApiServer.ReadToken);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/runs")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync("/api/runs/x/cancel", null)).StatusCode);
            var metrics = await http.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
            Assert.Equal("text/plain", metrics.Content.Headers.ContentType?.MediaType);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }
}
