using Microsoft.Extensions.Logging;
using Trellis.TestWorker;

namespace Trellis.Postgres.Tests;

/// <summary>
/// Claim windows (<see cref="WorkerOptions.ClaimWindow"/>): runs claimed by row lock, whose outcomes are written in
/// the claim's own transaction when they finish before the window closes. Runs are queued by a client without a
/// worker, so that the worker takes them through a claim (a run started next to a worker goes to it directly).
/// </summary>
public sealed class ClaimWindowTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class Quick : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => Task.FromResult(input * 2);
    }

    private sealed class Held(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            probe.Hit("started");
            await probe.Gate("release");
            return input;
        }
    }

    private sealed class StepThenHeld(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var doubled = await context.StepAsync("double", _ => Task.FromResult(input * 2));
            await probe.Gate("release");
            return doubled;
        }
    }

    private sealed class WaitsForShutdown(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            probe.Hit("started");
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return input;
        }
    }

    private sealed class AlwaysFails(Probe probe) : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input)
        {
            probe.Hit("attempt");
            throw new InvalidOperationException("no luck");
        }
    }

    [Fact]
    public async Task QueuedQuickRuns_FinishInTheirWindows_WithOneAttemptAndNoRecordLeft()
    {
        var queue = NewQueue();
        await using var client = await ClientAsync<Quick>(queue, _ => new Quick());
        var ids = await client.Client.StartManyAsync<Quick>(Enumerable.Range(0, 300).Cast<object?>());
        await using var worker = await WorkerAsync(queue, _ => new Quick(), TimeSpan.FromMilliseconds(200), w =>
        {
            w.MaxConcurrentRuns = 100;
            w.ClaimBatchSize = 50;
        });

        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(i * 2, await client.Client.GetHandle<Quick>(ids[i]).GetResultAsync(TimeSpan.FromSeconds(30)));
        }

        // Each written in its window's commit: the window transaction's id is its epoch.
        var rows = await database.RowsAsync(
            """
            SELECT status, attempt, epoch % 4294967296 = xmin::text::bigint, locked_by IS NULL AND lease_expires_at IS NULL, started_at <= completed_at
            FROM {schema}.runs WHERE id = ANY($1)
            """,
            new object[] { ids.ToArray() });
        Assert.Equal(300, rows.Count);
        Assert.All(rows, r => Assert.Equal(("completed", 1, true, true, true), ((string)r[0]!, (int)r[1]!, (bool)r[2]!, (bool)r[3]!, (bool)r[4]!)));
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.claim_windows"));
    }

    [Fact]
    public async Task RunStillGoingWhenTheWindowEnds_ReadsAsPendingUntilThen_ThenIsHeldUnderALease()
    {
        var queue = NewQueue();
        var probe = new Probe();
        await using var client = await ClientAsync(queue, _ => new Held(probe));
        var run = await client.Client.StartAsync<Held>(7);
        await using var worker = await WorkerAsync(queue, _ => new Held(probe), TimeSpan.FromSeconds(2));
        await probe.WaitForAsync("started", 1);

        // Inside the window: executing, yet pending in the store, with no lease.
        var inside = await run.GetAsync();
        Assert.Equal((RunStatus.Pending, null, 0), (inside.Status, inside.LockedBy, inside.Attempt));

        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Running, "the window closed and the run is held");
        var held = await run.GetAsync();
        Assert.Equal((worker.Worker!.WorkerId, 1), (held.LockedBy, held.Attempt));
        Assert.NotNull(held.LeaseExpiresAt);

        // Held past a heartbeat (a third of the 5 s lease): the lease is renewed like any claimed run's.
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).LeaseExpiresAt > held.LeaseExpiresAt, "the lease was renewed");
        probe.Open("release");
        Assert.Equal(7, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        var done = await run.GetAsync();
        Assert.Equal((RunStatus.Completed, 1, held.Epoch), (done.Status, done.Attempt, done.Epoch));
    }

    [Fact]
    public async Task RunThatWritesAStep_EndsItsWindowAndIsHeldUnderALeaseFromThen()
    {
        var queue = NewQueue();
        var probe = new Probe();
        await using var client = await ClientAsync(queue, _ => new StepThenHeld(probe));
        var run = await client.Client.StartAsync<StepThenHeld>(21);
        // A window far longer than the test waits: only the step can have ended it.
        await using var worker = await WorkerAsync(queue, _ => new StepThenHeld(probe), TimeSpan.FromSeconds(12), w => w.LeaseDuration = TimeSpan.FromSeconds(30));

        await Eventually.HoldsAsync(async () => (await run.GetStepsAsync()).Count == 1, "the step is stored", TimeSpan.FromSeconds(8));
        var held = await run.GetAsync();
        Assert.Equal((RunStatus.Running, worker.Worker!.WorkerId, 1), (held.Status, held.LockedBy, held.Attempt));
        Assert.Equal(held.Epoch, (await run.GetStepsAsync())[0].Epoch);

        probe.Open("release");
        Assert.Equal(42, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task FailingRun_IsRetriedThroughWindowsAndFailsWhenItsAttemptsAreUsedUp()
    {
        var queue = NewQueue();
        var probe = new Probe();
        await using var client = await ClientAsync(queue, _ => new AlwaysFails(probe));
        var run = await client.Client.StartAsync<AlwaysFails>(1, new StartOptions { MaxAttempts = 3 });
        await using var worker = await WorkerAsync(queue, _ => new AlwaysFails(probe), TimeSpan.FromMilliseconds(200));

        var failed = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(("System.InvalidOperationException", 3), (failed.Error?.Type, failed.Error?.Attempt));
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Failed, 3, 0), (info.Status, info.Attempt, info.WorkerLosses));
        Assert.Equal(3, probe.Count("attempt"));
    }

    [Fact]
    public async Task WorkerStoppedInsideAWindow_ReleasesTheRunWithNoAttemptCharged()
    {
        var queue = NewQueue();
        var probe = new Probe();
        await using var client = await ClientAsync(queue, _ => new WaitsForShutdown(probe));
        var run = await client.Client.StartAsync<WaitsForShutdown>(5);
        var worker = await WorkerAsync(queue, _ => new WaitsForShutdown(probe), TimeSpan.FromSeconds(2), w => w.ShutdownTimeout = TimeSpan.FromMilliseconds(100));
        await probe.WaitForAsync("started", 1);

        await worker.DisposeAsync(); // inside the window: the run is released when the shutdown timeout passes

        var released = await run.GetAsync();
        Assert.Equal((RunStatus.Pending, 0, 0, 0L, null), (released.Status, released.Attempt, released.WorkerLosses, released.Epoch, released.LockedBy));
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.claim_windows"));
    }

    [Fact]
    public async Task WorkerKilledInsideAWindow_ItsRunsCountAWorkerLossBeforeTheyRunAgain()
    {
        var clientBuilder = TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new StepFreeHold(null!));
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync();
        await BodyLog.CreateTableAsync(database.DataSource, database.Schema);
        // The victim keeps its window open for 4 s (its lease is 10 s), and holds each run for a minute.
        await using var victim = await ChildWorker.StartAsync(database, "victim", output, leaseMs: 10_000, claimWindowMs: 4_000);
        var oneAttempt = await client.Client.StartAsync<StepFreeHold>(new HoldInput(60_000), new StartOptions { MaxAttempts = 1 });
        var noLossAllowed = await client.Client.StartAsync<StepFreeHold>(new HoldInput(60_000), new StartOptions { MaxWorkerLosses = 0 });
        foreach (var run in new[] { oneAttempt, noLossAllowed })
        {
            await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "body", "start", "victim") == 1, "the victim runs it");
            Assert.Equal(RunStatus.Pending, (await run.GetAsync()).Status); // inside the window
        }

        // The survivor is up before the kill, and its periodic lease recovery will not run again for minutes: its
        // claims (every 100 ms, finding both runs locked) are what find the lost window.
        var events = new LoggedEvents();
        var log = new BodyLog(database.DataSource, database.Schema, "survivor");
        await using var survivor = await TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new StepFreeHold(log))
            .UseLoggerFactory(LoggerFactory.Create(b => b
                .AddProvider(events).AddProvider(new XunitLoggerProvider(output))
                .SetMinimumLevel(LogLevel.Debug).AddFilter("Npgsql", LogLevel.Warning)))
            .ConfigureWorker(w => w.LeaseRecoveryInterval = TimeSpan.FromMinutes(10))
            .StartAsync();
        await Eventually.HoldsAsync(() => events.Count(ClaimedEvent) > 0, "the survivor's first claim, after its first recovery");
        await victim.KillAsync();

        // A worker loss is not an attempt: the run allowed one attempt runs again on the survivor, as attempt 1.
        Assert.Equal("done@survivor", await oneAttempt.GetResultAsync(TimeSpan.FromSeconds(30)));
        var resumed = await oneAttempt.GetAsync();
        Assert.Equal((RunStatus.Completed, 1, 1), (resumed.Status, resumed.Attempt, resumed.WorkerLosses));
        var loss = Assert.Single(await oneAttempt.WorkerLossesAsync());
        Assert.Equal((RunHistoryEvents.WorkerLost, "victim", 1), (loss.Event, loss.WorkerId, loss.Attempt));
        Assert.Contains("claim_window_lost", loss.DetailJson, StringComparison.Ordinal);

        // A run that allows no worker loss is stopped, and never run again.
        var stopped = await Assert.ThrowsAsync<RunFailedException>(() => noLossAllowed.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(("Trellis.WorkerLossLimitExceeded", 1), (stopped.Error?.Type, stopped.Error?.Attempt));
        Assert.Contains("victim", stopped.Error?.Message, StringComparison.Ordinal);
        Assert.Equal((0, 1), ((await noLossAllowed.GetAsync()).Attempt, (await noLossAllowed.GetAsync()).WorkerLosses));
        Assert.Equal(0, await database.CountAsync(noLossAllowed.RunId, "body", "start", "survivor"));

        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.claim_windows"));
        Assert.True(events.Count(LostWindowsChargedEvent) >= 1); // "Counted a worker loss for n run(s) of claim windows that never closed"
    }

    /// <summary>The store's warning when a claim charged the runs of lost windows.</summary>
    private const int LostWindowsChargedEvent = 1100;

    /// <summary>The worker's "Claimed n of m run(s)", logged after each claim statement.</summary>
    private const int ClaimedEvent = 1015;

    private static string NewQueue() => TestEngines.NewQueue();

    private Task<TrellisEngine> ClientAsync<TWorkflow>(string queue, Func<IServiceProvider?, TWorkflow> workflow)
        where TWorkflow : class, IWorkflow => TestEngines.ClientAsync(database, output, queue, workflow);

    private Task<TrellisEngine> WorkerAsync<TWorkflow>(string queue, Func<IServiceProvider?, TWorkflow> workflow, TimeSpan window, Action<WorkerOptions>? configure = null)
        where TWorkflow : class, IWorkflow
    {
        var builder = TestEngines.Builder(database, output, queue).AddWorkflow(workflow);
        builder.Options.Worker.ClaimWindow = window;
        configure?.Invoke(builder.Options.Worker);
        return builder.StartAsync();
    }
}
