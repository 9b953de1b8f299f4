using Trellis.Storage;
using Trellis.TestWorker;

namespace Trellis.Postgres.Tests;

/// <summary>
/// Worker losses (a lease that expired, a claim window that never closed) are not the workflow's errors: they use up
/// no attempt, count against a limit of their own, and a run stopped by that limit can be resumed from its
/// checkpoints. Every claim has an epoch of its own, so a lost claim can write nothing.
/// </summary>
public sealed class WorkerLossTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class TwoSteps(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var first = await context.StepAsync("first", _ =>
            {
                probe.Hit("first");
                return Task.FromResult(input + 1);
            });
            return await context.StepAsync("second", _ =>
            {
                probe.Hit("second");
                return Task.FromResult(first * 10);
            });
        }
    }

    [Workflow(MaxWorkerLosses = 3)]
    private sealed class Limited : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => Task.FromResult(input);
    }

    private sealed class Fails : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => throw new NonRetryableException("no");
    }

    [Fact]
    public async Task ClaimWindowThatDied_ItsEpochIsNeverHandedOutAgain_SoItsHolderCanWriteNothing()
    {
        await using var store = database.NewStore();
        await store.MigrateAsync();
        var queue = NewQueue();
        var runId = $"fenced-{Guid.NewGuid():N}";
        await store.CreateRunsAsync([new NewRun(runId, "Wf", 1, queue, 0, "{}", null, RunInfo.EmptyTags, 3, null)]);
        var request = new ClaimRequest("window-holder", [queue], [new WorkflowKey("Wf", 1)], 1, TimeSpan.FromSeconds(30));
        var window = await store.OpenClaimWindowAsync(request);
        var held = Assert.Single(window!.Runs);

        // The server ends the window's transaction (as its idle-in-transaction timeout does), and another worker claims the run.
        var xid = (held.Epoch & 0xFFFF_FFFFL).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(await database.ScalarAsync<bool>("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_xid::text = $1", xid));
        await Eventually.HoldsAsync(async () => await database.ScalarAsync<string>("SELECT pg_xact_status($1::text::xid8)", held.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture)) == "aborted", "the window's transaction has ended");
        var claimed = Assert.Single(await store.ClaimAsync(request with { WorkerId = "new-owner" }));
        Assert.NotEqual(held.Epoch, claimed.Epoch);

        // Whatever the window's holder still tries under the epoch it was handed is refused: a step, progress, an outcome.
        var stale = Batch(runId, held.Epoch, "\"stale\"");
        await store.CommitAsync(stale);
        Assert.All(stale.All(), write => Assert.False(write.Applied));
        await Assert.ThrowsAnyAsync<Exception>(() => window.CloseAsync([Finish(runId, held.Epoch, "\"stale\"")], [], TimeSpan.FromSeconds(30)));

        // The new owner's writes apply.
        var fresh = Batch(runId, claimed.Epoch, "\"fresh\"");
        await store.CommitAsync(fresh);
        Assert.All(fresh.All(), write => Assert.True(write.Applied));
        var run = await store.GetRunAsync(runId);
        Assert.Equal((RunStatus.Completed, "\"fresh\"", claimed.Epoch, 1, 1), (run!.Status, run.OutputJson, run.Epoch, run.Attempt, run.WorkerLosses));
        var step = Assert.Single(await store.GetStepsAsync(runId));
        Assert.Equal(("\"fresh\"", claimed.Epoch), (step.ResultJson, step.Epoch));
        var loss = Assert.Single(await store.GetHistoryAsync(runId), h => h.Event == RunHistoryEvents.WorkerLost);
        Assert.Equal((RunHistoryEvents.WorkerLost, "window-holder", held.Epoch), (loss.Event, loss.WorkerId, loss.Epoch));
    }

    [Fact]
    public async Task ExpiredLeases_CountAsWorkerLossesNotAttempts_UntilTheLimitStopsTheRun_ThenResumeRunsItOnFromItsCheckpoints()
    {
        var queue = NewQueue();
        var probe = new Probe();
        await using var client = await ClientAsync(queue, _ => new TwoSteps(probe));
        var run = await client.Client.StartAsync<TwoSteps>(4, new StartOptions { MaxAttempts = 1, MaxWorkerLosses = 2 });
        var store = client.Store;
        var request = new ClaimRequest("?", [queue], [new WorkflowKey(nameof(TwoSteps), 1)], 1, TimeSpan.FromSeconds(-1)); // leases that have run out

        for (var loss = 1; loss <= 3; loss++)
        {
            var claimed = Assert.Single(await store.ClaimAsync(request with { WorkerId = $"lost-{loss}" }));
            Assert.Equal(1, claimed.Attempt); // never more: a loss gives its attempt back
            if (loss == 1)
            {
                // The first claim got as far as the first step's checkpoint.
                var first = new CheckpointBatch();
                first.Steps.Add(Step(run.RunId, claimed.Epoch, "first", "5"));
                await store.CommitAsync(first);
                Assert.True(first.Steps[0].Applied);
            }

            Assert.Equal(1, await store.RecoverExpiredLeasesAsync(100));
            var info = await run.GetAsync();
            Assert.Equal((loss <= 2 ? RunStatus.Pending : RunStatus.Failed, 0, loss), (info.Status, info.Attempt, info.WorkerLosses));
        }

        // The third loss was one more than the run allows: stopped, with every loss recorded.
        var stopped = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(("Trellis.WorkerLossLimitExceeded", 1, true), (stopped.Error?.Type, stopped.Error?.Attempt, stopped.Error?.Permanent));
        Assert.Contains("lost-3", stopped.Error?.Message, StringComparison.Ordinal);
        var history = await run.WorkerLossesAsync();
        Assert.Equal(["lost-1", "lost-2", "lost-3"], history.Select(h => h.WorkerId));
        Assert.All(history, h => Assert.Equal((RunHistoryEvents.WorkerLost, 1), (h.Event, h.Attempt)));
        Assert.All(history, h => Assert.Contains("\"lease_expired\"", h.DetailJson, StringComparison.Ordinal));
        Assert.Contains("\"losses\": 3", history[2].DetailJson, StringComparison.Ordinal);

        // Resumed: back in the queue with its loss budget restored; resuming it again changes nothing.
        var resumed = await run.ResumeAsync();
        Assert.Equal((RunStatus.Pending, 0, 0, null), (resumed.Status, resumed.Attempt, resumed.WorkerLosses, resumed.Error));
        Assert.Equal(RunStatus.Pending, (await run.ResumeAsync()).Status);
        Assert.Equal(RunHistoryEvents.Resumed, Assert.Single(await run.GetHistoryAsync(), h => h.Event == RunHistoryEvents.Resumed).Event);

        // A worker finishes it from its checkpoint: the first step is replayed, not run again.
        await using var worker = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new TwoSteps(probe)).StartAsync();
        Assert.Equal(50, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal((0, 1), (probe.Count("first"), probe.Count("second")));
        var done = await run.GetAsync();
        Assert.Equal((RunStatus.Completed, 1, 0), (done.Status, done.Attempt, done.WorkerLosses));
    }

    [Fact]
    public async Task PoisonRun_ThatKillsEveryWorkerTakingIt_StopsOnceItsLimitIsExceeded_WithEveryLossRecorded()
    {
        var clientBuilder = TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new PoisonPill(null!));
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync();
        await BodyLog.CreateTableAsync(database.DataSource, database.Schema);
        var run = await client.Client.StartAsync<PoisonPill>(0, new StartOptions { MaxWorkerLosses = 2 });

        // Workers start one after another; each takes the run and dies of it, until the run is stopped.
        var workers = new List<ChildWorker>();
        try
        {
            for (var n = 1; !(await run.GetAsync()).Status.IsTerminal(); n++)
            {
                Assert.True(n <= 4, "the run should have stopped after its third worker loss");
                var worker = await ChildWorker.StartAsync(database, $"poison-{n}", output, leaseMs: 1000, mayDieStarting: true);
                workers.Add(worker);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await Task.WhenAny(worker.WaitForExitAsync(timeout.Token), Eventually.HoldsAsync(async () => (await run.GetAsync()).Status.IsTerminal(), "the run stopped"));
            }

            var stopped = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal("Trellis.WorkerLossLimitExceeded", stopped.Error?.Type);
            var history = await run.WorkerLossesAsync();
            Assert.Equal(["poison-1", "poison-2", "poison-3"], history.Select(h => h.WorkerId));
            Assert.Equal(3, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.body_log WHERE run_id = $1", run.RunId));
            var info = await run.GetAsync();
            Assert.Equal((0, 3, 2), (info.Attempt, info.WorkerLosses, info.MaxWorkerLosses));
            Assert.False(workers[^1].HasExited); // the worker that found the run over its limit did not take it
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ResumeAsync_RefusesRunsThatDidNotStopForWorkerLosses()
    {
        var queue = NewQueue();
        await using var engine = await TestEngines.Builder(database, output, queue).AddWorkflow<Limited>().AddWorkflow<Fails>().StartAsync();
        var completed = await engine.Client.StartAsync<Limited>(1);
        await completed.GetResultAsync(TimeSpan.FromSeconds(30));
        var failed = await engine.Client.StartAsync<Fails>(1);
        await Assert.ThrowsAsync<RunFailedException>(() => failed.GetResultAsync(TimeSpan.FromSeconds(30)));

        var notCompleted = await Assert.ThrowsAsync<RunNotResumableException>(() => completed.ResumeAsync());
        Assert.Equal(RunStatus.Completed, notCompleted.Status);
        var ownError = await Assert.ThrowsAsync<RunNotResumableException>(() => failed.ResumeAsync());
        Assert.Contains("Trellis.NonRetryableException", ownError.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RunNotFoundException>(() => engine.Client.ResumeAsync("no-such-run"));
        Assert.Equal(RunStatus.Failed, (await failed.GetAsync()).Status);
        Assert.DoesNotContain(await failed.GetHistoryAsync(), h => h.Event is RunHistoryEvents.WorkerLost or RunHistoryEvents.Resumed);
    }

    [Fact]
    public async Task MaxWorkerLosses_ComesFromTheStart_ThenTheWorkflow_ThenTheEngine_AlsoForStartsByName()
    {
        var queue = NewQueue();
        var builder = TestEngines.Builder(database, output, queue).AddWorkflow<Limited>().AddWorkflow(_ => new TwoSteps(new Probe()));
        builder.Options.MaxWorkerLosses = 11;
        builder.Options.Worker.Enabled = true;
        builder.Options.Worker.Queues = ["nothing-runs-here"];
        await using var engine = await builder.StartAsync();

        var fromWorkflow = await engine.Client.StartAsync<Limited>(1);
        var fromStart = await engine.Client.StartAsync<Limited>(1, new StartOptions { MaxWorkerLosses = 7 });
        var fromEngine = await engine.Client.StartAsync<TwoSteps>(1);
        var many = await engine.Client.StartManyAsync<Limited>([1, 2]);

        // A process without the workflow's code starts it by name: the limit comes from what the worker registered.
        var nameOnlyBuilder = TestEngines.Builder(database, output, queue);
        nameOnlyBuilder.Options.Worker.Enabled = false;
        await using var nameOnly = await nameOnlyBuilder.StartAsync();
        var byName = await nameOnly.Client.StartJsonAsync(nameof(Limited), "1");
        var byNameOther = await nameOnly.Client.StartJsonAsync(nameof(TwoSteps), "1");

        Assert.Equal(3, (await fromWorkflow.GetAsync()).MaxWorkerLosses);
        Assert.Equal(7, (await fromStart.GetAsync()).MaxWorkerLosses);
        Assert.Equal(11, (await fromEngine.GetAsync()).MaxWorkerLosses);
        foreach (var id in many)
        {
            Assert.Equal(3, (await engine.Client.GetHandle(id).GetAsync()).MaxWorkerLosses);
        }

        Assert.Equal(3, (await byName.GetAsync()).MaxWorkerLosses);
        Assert.Equal(TrellisOptions.DefaultMaxWorkerLosses, (await byNameOther.GetAsync()).MaxWorkerLosses);
        await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.StartAsync<Limited>(1, new StartOptions { MaxWorkerLosses = -1 }));
    }

    private static CheckpointBatch Batch(string runId, long epoch, string output)
    {
        var batch = new CheckpointBatch();
        batch.Steps.Add(Step(runId, epoch, "only", output));
        batch.Progress.Add(new ProgressWrite { RunId = runId, Epoch = epoch, Percent = 50 });
        batch.Finishes.Add(Finish(runId, epoch, output));
        return batch;
    }

    private static StepWrite Step(string runId, long epoch, string name, string resultJson) => new()
    {
        RunId = runId,
        Epoch = epoch,
        Sequence = 0,
        Name = name,
        Status = StepStatus.Completed,
        ResultJson = resultJson,
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        CompletedAt = DateTimeOffset.UtcNow,
    };

    private static RunFinish Finish(string runId, long epoch, string output) =>
        new() { RunId = runId, Epoch = epoch, Kind = RunFinishKind.Completed, OutputJson = output };

    private static string NewQueue() => TestEngines.NewQueue();

    private Task<TrellisEngine> ClientAsync<TWorkflow>(string queue, Func<IServiceProvider?, TWorkflow> workflow)
        where TWorkflow : class, IWorkflow => TestEngines.ClientAsync(database, output, queue, workflow);
}
