namespace Trellis.Postgres.Tests;

/// <summary>
/// What an engine times on its own clock (<see cref="TrellisBuilder.UseTimeProvider"/>) happens when that clock says:
/// a step's retry back-off and the lease heartbeat, driven here by a clock the test moves, without sleeping.
/// (What the database times, scheduled starts and lease expiry, runs on the database's clock.)
/// </summary>
public sealed class EngineClockTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private static readonly TimeSpan Backoff = TimeSpan.FromSeconds(30);

    private sealed class FailsFirst(Probe probe) : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) =>
            context.StepAsync("flaky", _ => probe.Hit("attempt") == 1 ? throw new TimeoutException("try again") : Task.FromResult(input + 1));
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

    [Fact]
    public async Task AStepRetry_WaitsItsBackoffOnTheEnginesClock_AndNoLonger()
    {
        var clock = new ObservedClock();
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output)
            .UseTimeProvider(clock)
            .Configure(o => o.StepRetry = new RetryPolicy { MaxAttempts = 2, InitialDelay = Backoff, MaxDelay = Backoff, Jitter = 0 })
            .ConfigureWorker(w => w.LeaseDuration = TimeSpan.FromMinutes(5))
            .AddWorkflow(_ => new FailsFirst(probe))
            .StartAsync();

        var run = await engine.Client.StartAsync<FailsFirst>(41);
        await clock.TimerSetAsync(Backoff);
        var step = Assert.Single(await run.GetStepsAsync());
        Assert.Equal((StepStatus.Running, 1), (step.Status, step.AttemptErrors.Count)); // waiting for its next attempt

        clock.Advance(Backoff - TimeSpan.FromSeconds(1));
        Assert.Equal(1, probe.Count("attempt")); // no timer of the retry's is due yet
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(42, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, probe.Count("attempt"));
    }

    [Fact]
    public async Task TheHeartbeat_RenewsALease_WhenTheEnginesClockReachesItsInterval()
    {
        var clock = new ObservedClock();
        var probe = new Probe();
        var heartbeat = TimeSpan.FromMinutes(1);
        await using var engine = await TestEngines.Builder(database, output)
            .UseTimeProvider(clock)
            .ConfigureWorker(w =>
            {
                w.LeaseDuration = TimeSpan.FromMinutes(10);
                w.HeartbeatInterval = heartbeat;
            })
            .AddWorkflow(_ => new Held(probe))
            .StartAsync();
        var run = await engine.Client.StartAsync<Held>(7);
        await probe.WaitForAsync("started", 1);
        var claimedUntil = (await run.GetAsync()).LeaseExpiresAt;

        await clock.TimerSetAsync(heartbeat);
        clock.Advance(heartbeat);

        await Eventually.HoldsAsync(async () => (await run.GetAsync()).LeaseExpiresAt > claimedUntil, "the lease was renewed");
        probe.Open("release");
        Assert.Equal(7, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
    }
}
