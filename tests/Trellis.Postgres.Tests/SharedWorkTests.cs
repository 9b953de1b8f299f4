using Trellis.TestWorker;

namespace Trellis.Postgres.Tests;

/// <summary>Several worker processes share one queue through PostgreSQL alone.</summary>
public sealed class SharedWorkTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private TrellisEngine _client = null!;

    public async Task InitializeAsync()
    {
        var builder = TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new SequentialSteps(null!));
        builder.Options.Worker.Enabled = false;
        _client = await builder.StartAsync();
        await BodyLog.CreateTableAsync(database.DataSource, database.Schema);
    }

    public async Task DisposeAsync() => await _client.DisposeAsync();

    [Fact]
    public async Task TwoWorkerProcesses_TwoHundredRuns_EachRunExecutesOnOneWorkerAndAllComplete()
    {
        await using var first = await ChildWorker.StartAsync(database, "first", output, leaseMs: 10_000);
        await using var second = await ChildWorker.StartAsync(database, "second", output, leaseMs: 10_000);

        var runs = new List<RunHandle<SequentialSteps>>();
        for (var i = 0; i < 200; i++)
        {
            runs.Add(await _client.Client.StartAsync<SequentialSteps>(new StepsInput(Steps: 3, StepDelayMs: 5)));
        }

        foreach (var run in runs)
        {
            var result = await run.GetResultAsync(TimeSpan.FromSeconds(120));
            Assert.Single(result.Select(r => r.Split('@')[1]).Distinct());
        }

        var perRun = await database.RowsAsync("""
            SELECT run_id, count(DISTINCT worker), count(*) FILTER (WHERE event = 'start')
            FROM {schema}.body_log GROUP BY run_id
            """);
        Assert.Equal(200, perRun.Count);
        Assert.All(perRun, r => Assert.Equal((1L, 3L), ((long)r[1]!, (long)r[2]!))); // one worker, every step body once
        var workers = await database.RowsAsync("SELECT DISTINCT worker FROM {schema}.body_log");
        Assert.Equal(2, workers.Count); // both processes took a share
        // Each run claimed once: one attempt, no worker lost, every step written under the run's one epoch.
        Assert.Equal(200, await database.ScalarAsync<long>("""
            SELECT count(*) FROM {schema}.runs r
            WHERE r.status = 'completed' AND r.attempt = 1 AND r.worker_losses = 0
              AND NOT EXISTS (SELECT 1 FROM {schema}.steps s WHERE s.run_id = r.id AND s.epoch <> r.epoch)
            """));
    }

    [Fact]
    public async Task StolenLease_FrozenWorkerResumesAfterTakeover_CannotWriteAStaleCheckpoint()
    {
        await using var frozen = await ChildWorker.StartAsync(database, "frozen", output, leaseMs: 2000);
        // The frozen worker's step body runs to its end after SIGCONT even if the worker has noticed the lost lease by
        // then (its heartbeat and the body's timer are both overdue, in either order): its checkpoint is always tried.
        // Each step lasts 3 s, so that the test's polling, however slow on a loaded machine, freezes the worker in step 1.
        var run = await _client.Client.StartAsync<SequentialSteps>(new StepsInput(Steps: 3, StepDelayMs: 3000, IgnoreAbort: true));
        await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "step-1", "start", "frozen") == 1, "the worker is in step 1");

        frozen.Pause(); // SIGSTOP: no heartbeat, no writes, while its lease runs out
        var log = new BodyLog(database.DataSource, database.Schema, "thief");
        await using (var thief = await TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new SequentialSteps(log)).StartAsync())
        {
            Assert.Equal(["0@frozen", "1@thief", "2@thief"], await run.GetResultAsync(TimeSpan.FromSeconds(60)));
        }

        frozen.Resume(); // SIGCONT: its step 1 body finishes and it tries to checkpoint under the old epoch
        await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "step-1", "end", "frozen") == 1, "the resumed worker finished its step body");
        await Eventually.HoldsAsync(() => frozen.Output.Contains("lease lost", StringComparison.Ordinal), "the resumed worker noticed it lost the run");

        var steps = await run.GetStepsAsync();
        Assert.Equal(["\"0@frozen\"", "\"1@thief\"", "\"2@thief\""], steps.Select(s => s.ResultJson));
        var info = await run.GetAsync();
        Assert.Equal([steps[0].Epoch, info.Epoch, info.Epoch], steps.Select(s => s.Epoch));
        Assert.NotEqual(steps[0].Epoch, info.Epoch);
        Assert.Equal(0, await database.CountAsync(run.RunId, "step-2", "start", "frozen"));
        Assert.Equal((RunStatus.Completed, 1, 1), (info.Status, info.Attempt, info.WorkerLosses));
        Assert.Contains("1@thief", info.OutputJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LostLease_WaiterInTheLosingProcess_HearsTheNewOwnersOutcomeWhileTheOldBodyStillRuns()
    {
        // The waiter leaves a run this process executes to the execution's own report. Once the worker here has lost
        // the run, that report will never come (it may write nothing more), while its body may run on for long, here
        // sleeping through the abort: the waiter must learn the outcome from the database like any other process.
        var log = new BodyLog(database.DataSource, database.Schema, "loser");
        var builder = TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new SequentialSteps(log));
        builder.Options.Worker.LeaseDuration = TimeSpan.FromSeconds(3);
        await using var loser = await builder.StartAsync();
        var run = await loser.Client.StartAsync<SequentialSteps>(new StepsInput(Steps: 1, StepDelayMs: 30_000, IgnoreAbort: true));
        await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "step-0", "start", "loser") == 1, "the body is in its step");

        // Another worker takes the run over (a new epoch) and finishes it, as one whose lease recovery found it would.
        Assert.Equal(1L, await database.ScalarAsync<long>("""
            WITH taken AS (
                UPDATE {schema}.runs SET epoch = epoch + 1, status = 'completed', output = '["0@thief"]', completed_at = now(),
                                         locked_by = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE id = $1 AND status = 'running' RETURNING 1)
            SELECT count(*) FROM taken
            """, run.RunId));

        Assert.Equal(["0@thief"], await run.GetResultAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(0, await database.CountAsync(run.RunId, "step-0", "end", "loser")); // its body still sleeps,
        Assert.DoesNotContain(run.RunId, loser.Worker!.InFlightRunIds); // but the run is no longer this worker's
    }
}
