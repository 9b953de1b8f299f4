using Microsoft.Extensions.Logging;

namespace Trellis.Postgres.Tests;

/// <summary>
/// A worker that was paused starts no work it no longer holds: past its lease on its own clock, it has the store
/// confirm its hold before it starts a run or a step body, and abandons the run, writing nothing, when the hold is gone.
/// </summary>
public sealed class StaleHoldTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>One step, whose body says which worker ran it.</summary>
    private sealed class OneStep(Probe probe, string worker) : Workflow<int, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, int input) =>
            context.StepAsync("only", _ =>
            {
                probe.Hit($"{worker}:body");
                return Task.FromResult(worker);
            });
    }

    /// <summary>A step, then code between steps that waits for the test, then a second step.</summary>
    private sealed class StepGateStep(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var first = await context.StepAsync("first", _ =>
            {
                probe.Hit("first");
                return Task.FromResult(1);
            });
            probe.Hit("between");
            await probe.Gate("go");
            var second = await context.StepAsync("second", _ =>
            {
                probe.Hit("second");
                return Task.FromResult(2);
            });
            return first + second;
        }
    }

    [Theory]
    [InlineData(50)] // a claim window: the server ends its idle transaction after the lease
    [InlineData(0)] // a claim under a lease, which expires
    public async Task PausedBetweenItsClaimAndTheStart_RunTakenOverMeanwhile_StartsNothingAndWritesNothing(int claimWindowMs)
    {
        var queue = NewQueue();
        var probe = new Probe();
        var lease = TimeSpan.FromSeconds(1);
        await using var client = await ClientAsync(queue, _ => new OneStep(probe, "client"));
        var run = await client.Client.StartAsync<OneStep>(1);

        TrellisEngine? thief = null;
        var events = new LoggedEvents();
        var victimBuilder = TestEngines.Builder(database, output, queue)
            .UseLoggerFactory(LoggerFactory.Create(b => b.AddProvider(events).AddProvider(new XunitLoggerProvider(output)).AddFilter("Npgsql", LogLevel.Warning)))
            .AddWorkflow(_ => new OneStep(probe, "victim"))
            .UseStore(
                context => FrozenAfterClaimStore.Wrap(database.NewStore(), async claimed =>
                {
                    // Frozen right after the claim, for longer than the lease: another worker takes the run and finishes it.
                    Assert.Equal(run.RunId, Assert.Single(claimed).Id);
                    thief = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new OneStep(probe, "thief"))
                        .ConfigureWorker(w => (w.LeaseDuration, w.LeaseRecoveryInterval) = (lease, TimeSpan.FromMilliseconds(100)))
                        .StartAsync();
                    Assert.Equal("thief", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
                }),
                PostgresStore.IsTransient)
            .ConfigureWorker(w => (w.LeaseDuration, w.ClaimWindow) = (lease, TimeSpan.FromMilliseconds(claimWindowMs)));
        await using var victim = await victimBuilder.StartAsync();
        try
        {
            // The victim goes on with its claim, now long dead: it gives the run up without starting it.
            await Eventually.HoldsAsync(() => events.Count(RunLeaseLostEvent) > 0, "the victim found it had lost the run");
            await Eventually.HoldsAsync(() => victim.Worker!.InFlightCount == 0, "the victim dropped the run");
            Assert.Equal((1, 0), (probe.Count("thief:body"), probe.Count("victim:body")));
            var info = await run.GetAsync();
            Assert.Equal((RunStatus.Completed, "\"thief\"", 1, 1), (info.Status, info.OutputJson, info.Attempt, info.WorkerLosses));
            var step = Assert.Single(await run.GetStepsAsync());
            Assert.Equal(("\"thief\"", info.Epoch), (step.ResultJson, step.Epoch));
            var loss = Assert.Single(await run.WorkerLossesAsync());
            Assert.Equal((RunHistoryEvents.WorkerLost, victim.Worker!.WorkerId), (loss.Event, loss.WorkerId));
            Assert.Contains(claimWindowMs > 0 ? "claim_window_lost" : "lease_expired", loss.DetailJson, StringComparison.Ordinal);
        }
        finally
        {
            if (thief is not null)
            {
                await thief.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task PausedBetweenTwoSteps_RunTakenOverMeanwhile_TheNextStepBodyNeverStarts()
    {
        var probe = new Probe();
        var clock = new PausableClock();
        // Heartbeats far apart: only the hold check, not a heartbeat, can notice the takeover in this test.
        await using var victim = await TestEngines.Builder(database, output).AddWorkflow(_ => new StepGateStep(probe))
            .UseTimeProvider(clock)
            .ConfigureWorker(w => (w.LeaseDuration, w.HeartbeatInterval) = (TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(25)))
            .StartAsync();
        var run = await victim.Client.StartAsync<StepGateStep>(0);
        await probe.WaitForAsync("between", 1);

        // Another worker has the run now, and the victim was paused longer than its lease.
        await TakeOverAsync(run.RunId);
        clock.Pause(TimeSpan.FromSeconds(31));
        probe.Open("go");

        await Eventually.HoldsAsync(() => !victim.Worker!.InFlightRunIds.Contains(run.RunId), "the victim dropped the run");
        Assert.Equal((1, 0), (probe.Count("first"), probe.Count("second")));
        Assert.Equal(["first"], (await run.GetStepsAsync()).Select(s => s.Name));
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Running, "thief"), (info.Status, info.LockedBy));
    }

    [Fact]
    public async Task PausedBetweenTwoSteps_StillHeld_HasTheHoldConfirmedAndGoesOn()
    {
        var probe = new Probe();
        var clock = new PausableClock();
        await using var worker = await TestEngines.Builder(database, output).AddWorkflow(_ => new StepGateStep(probe))
            .UseTimeProvider(clock)
            .ConfigureWorker(w => (w.LeaseDuration, w.HeartbeatInterval) = (TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(25)))
            .StartAsync();
        var run = await worker.Client.StartAsync<StepGateStep>(0);
        await probe.WaitForAsync("between", 1);
        var before = await run.GetAsync();

        clock.Pause(TimeSpan.FromSeconds(31));
        probe.Open("go");

        Assert.Equal(3, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal((1, 1), (probe.Count("first"), probe.Count("second")));
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Completed, 1, 0, before.Epoch), (info.Status, info.Attempt, info.WorkerLosses, info.Epoch));
        Assert.Empty(await run.WorkerLossesAsync());
    }

    /// <summary>Does what a worker whose lease recovery and claim found the run would: the run is held under a new epoch by "thief".</summary>
    private async Task TakeOverAsync(string runId) =>
        Assert.Equal(1L, await database.ScalarAsync<long>("""
            WITH taken AS (
                UPDATE {schema}.runs SET epoch = epoch + 1000, locked_by = 'thief', lease_expires_at = now() + interval '1 minute', updated_at = now()
                WHERE id = $1 AND status = 'running' RETURNING 1)
            SELECT count(*) FROM taken
            """, runId));

    /// <summary>The worker's "lease lost … abandoning" line.</summary>
    private const int RunLeaseLostEvent = 1025;

    private static string NewQueue() => TestEngines.NewQueue();

    private Task<TrellisEngine> ClientAsync<TWorkflow>(string queue, Func<IServiceProvider?, TWorkflow> workflow)
        where TWorkflow : class, IWorkflow => TestEngines.ClientAsync(database, output, queue, workflow);
}
