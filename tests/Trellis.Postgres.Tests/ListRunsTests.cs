namespace Trellis.Postgres.Tests;

/// <summary>Listing runs: each filter, keyset pages, live and finished runs in one newest-first sequence.</summary>
public sealed class ListRunsTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class Echo : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => context.StepAsync("echo", _ => Task.FromResult(input));
    }

    private sealed class Other : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    [Fact]
    public async Task ListRunsAsync_Filters_ServeMatchingRunsPageByPage()
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow<Echo>().AddWorkflow<Other>();
        builder.Options.Worker.Enabled = false;
        await using var engine = await builder.StartAsync();
        var batch = Guid.NewGuid().ToString("N");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        for (var i = 0; i < 7; i++)
        {
            await engine.Client.StartAsync<Echo>($"e{i}", new StartOptions
            {
                CorrelationId = i < 5 ? batch : null,
                Tags = new Dictionary<string, string> { ["batch"] = batch, ["parity"] = i % 2 == 0 ? "even" : "odd" },
            });
        }

        var other = await engine.Client.StartAsync<Other>("o", new StartOptions { CorrelationId = batch });
        await other.CancelAsync();

        var byTag = await engine.Client.ListRunsAsync(new RunQuery { Tag = new("parity", "even") });
        Assert.Equal(4, byTag.Runs.Count(r => r.Tags["batch"] == batch));
        var byCorrelation = await engine.Client.ListRunsAsync(new RunQuery { CorrelationId = batch });
        Assert.Equal(6, byCorrelation.Runs.Count);
        var cancelled = await engine.Client.ListRunsAsync(new RunQuery { CorrelationId = batch, Status = RunStatus.Cancelled });
        Assert.Equal(other.RunId, Assert.Single(cancelled.Runs).Id);
        var echoes = await engine.Client.ListRunsAsync(new RunQuery { CorrelationId = batch, WorkflowName = "Echo", CreatedAfter = before });
        Assert.Equal(5, echoes.Runs.Count);
        Assert.Empty((await engine.Client.ListRunsAsync(new RunQuery { CorrelationId = batch, CreatedBefore = before })).Runs);

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await engine.Client.ListRunsAsync(new RunQuery { Tag = new("batch", batch), Limit = 3, Cursor = cursor });
            Assert.True(page.Runs.Count <= 3);
            seen.AddRange(page.Runs.Select(r => r.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(7, seen.Count);
        Assert.Equal(7, seen.Distinct().Count());
        var newestFirst = (await engine.Client.ListRunsAsync(new RunQuery { Tag = new("batch", batch) })).Runs;
        Assert.Equal(newestFirst.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal).Select(r => r.Id), newestFirst.Select(r => r.Id));
    }

    [Fact]
    public async Task ListRunsAsync_LiveAndFinishedRuns_ComeNewestFirstInOneSequenceOfPages()
    {
        // Live and finished runs are indexed apart; a listing merges them, also across page boundaries.
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<Other>().StartAsync();
        var batch = Guid.NewGuid().ToString("N");
        var parked = $"p{Guid.NewGuid():N}"[..12]; // no worker serves it: its runs stay pending
        var finished = new List<RunHandle<Other>>();
        var pending = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var options = new StartOptions { Queue = i % 2 == 0 ? null : parked, Tags = new Dictionary<string, string> { ["batch"] = batch } };
            var run = await engine.Client.StartAsync<Other>($"x{i}", options);
            if (i % 2 == 0)
            {
                finished.Add(run);
                await run.GetResultAsync(TimeSpan.FromSeconds(30)); // finished before the next one is created
            }
            else
            {
                pending.Add(run.RunId);
            }
        }

        var listed = new List<RunInfo>();
        string? cursor = null;
        do
        {
            var page = await engine.Client.ListRunsAsync(new RunQuery { Tag = new("batch", batch), Limit = 3, Cursor = cursor });
            listed.AddRange(page.Runs);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(8, listed.Select(r => r.Id).Distinct().Count());
        Assert.Equal(
            listed.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal).Select(r => r.Id),
            listed.Select(r => r.Id));
        // Created alternately, so newest first they alternate too: pending, completed, pending, …
        Assert.Equal(
            Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? RunStatus.Pending : RunStatus.Completed),
            listed.Select(r => r.Status));

        var completed = await engine.Client.ListRunsAsync(new RunQuery { Tag = new("batch", batch), Status = RunStatus.Completed });
        Assert.Equal(finished.Select(r => r.RunId).Reverse(), completed.Runs.Select(r => r.Id));
        var waiting = await engine.Client.ListRunsAsync(new RunQuery { Tag = new("batch", batch), Status = RunStatus.Pending, Limit = 2 });
        Assert.Equal(pending.AsEnumerable().Reverse().Take(2), waiting.Runs.Select(r => r.Id));
        Assert.NotNull(waiting.NextCursor);
    }
}
