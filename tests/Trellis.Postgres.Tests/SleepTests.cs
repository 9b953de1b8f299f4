namespace Trellis.Postgres.Tests;

/// <summary>
/// Durable sleeps: a long one leaves the worker and waits in the store as one row, and whichever worker is alive wakes
/// it when its time comes on the database's clock, by a timer rather than the next poll; a short one stays on the
/// worker; the steps before a sleep are not run again after it.
/// </summary>
public sealed class SleepTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private static readonly TimeSpan Week = TimeSpan.FromDays(7);

    private sealed class Nap(Probe probe, Func<WorkflowContext, Task> sleep) : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string input)
        {
            var before = await context.StepAsync("before", _ =>
            {
                probe.Hit("before");
                return Task.FromResult(input + "!");
            });
            await sleep(context);
            return await context.StepAsync("after", _ =>
            {
                probe.Hit("after");
                return Task.FromResult(before + "?");
            });
        }
    }

    [Fact]
    public async Task AWeekLongSleep_IsAWaitingRunAndOneRow_HoldingNoWorker_AndGoesOnWhenItsTimeComes()
    {
        var probe = new Probe();
        // The engine's clock, which its timers follow: moved a week ahead below, so that the week passes in test time.
        var clock = new ObservedClock();
        await using var engine = await TestEngines.Builder(database, output)
            .UseTimeProvider(clock)
            .ConfigureWorker(w => w.LeaseDuration = TimeSpan.FromDays(30)) // the heartbeat's timers are on the moved clock too
            .AddWorkflow(_ => new Nap(probe, c => c.SleepAsync(Week))).StartAsync();
        var run = await engine.Client.StartAsync<Nap>("hi");

        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");
        var waiting = await run.GetAsync();
        var databaseNow = await database.ScalarAsync<DateTime>("SELECT now()");
        Assert.InRange(waiting.ScheduledAt.UtcDateTime, databaseNow + Week - TimeSpan.FromMinutes(1), databaseNow + Week);
        Assert.StartsWith("sleep until ", waiting.WaitReason, StringComparison.Ordinal);
        Assert.Equal((null, null), (waiting.LockedBy, waiting.LeaseExpiresAt));
        await Eventually.HoldsAsync(() => engine.Worker!.InFlightCount == 0, "the worker let the run go");
        var steps = await run.GetStepsAsync();
        Assert.Equal([("before", StepStatus.Completed), ("sleep", StepStatus.Running)], steps.Select(s => (s.Name, s.Status)));
        var until = await database.ScalarAsync<DateTime>("SELECT (result->>'until')::timestamptz FROM {schema}.steps WHERE run_id = $1 AND name = 'sleep'", run.RunId);
        Assert.Equal(waiting.ScheduledAt.UtcDateTime, until);

        // The week passes on the engine's clock (and a second: the fake clock stands still meanwhile, and the end was set
        // from the database's clock, a few milliseconds behind the moment the engine read it).
        clock.Advance(Week + TimeSpan.FromSeconds(1));

        // On the real clock; the fake one moves on a second at a time meanwhile, as time does: a wait the timer service
        // began after the jump above ends only when the clock moves again.
        await Eventually.HoldsAsync(async () =>
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            return (await run.GetAsync()).Status == RunStatus.Completed;
        }, "the run completes");
        Assert.Equal("hi!?", await run.GetResultAsync());
        Assert.Equal((1, 1), (probe.Count("before"), probe.Count("after")));
        Assert.All(await run.GetStepsAsync(), s => Assert.Equal(StepStatus.Completed, s.Status));
        var done = await run.GetAsync();
        Assert.Equal((1, (string?)null), (done.Attempt, done.WaitReason));
    }

    [Fact]
    public async Task ASleep_EndsWhenItsTimeComes_NotAtTheNextPoll()
    {
        var probe = new Probe();
        var nap = TimeSpan.FromSeconds(2);
        await using var engine = await TestEngines.Builder(database, output)
            .ConfigureWorker(w => w.PollInterval = TimeSpan.FromSeconds(60))
            .AddWorkflow(_ => new Nap(probe, c => c.SleepAsync(nap)))
            .StartAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var run = await engine.Client.StartAsync<Nap>("soon");

        Assert.Equal("soon!?", await run.GetResultAsync(TimeSpan.FromSeconds(50)));
        Assert.InRange(clock.Elapsed, nap, TimeSpan.FromSeconds(30)); // a poll would have come after 60 s
    }

    [Fact]
    public async Task ASleepingRun_IsWokenByAnotherWorker_WhenItsOwnStoppedMeanwhile()
    {
        var probe = new Probe();
        var queue = TestEngines.NewQueue();
        TrellisBuilder Worker() => TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Nap(probe, c => c.SleepAsync(TimeSpan.FromSeconds(2))));
        RunHandle<Nap> run;
        await using (var first = await Worker().StartAsync())
        {
            run = await first.Client.StartAsync<Nap>("later");
            await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");
        }

        await using var second = await Worker().StartAsync();

        Assert.Equal("later!?", await second.Client.GetHandle<Nap>(run.RunId).GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal((1, 1), (probe.Count("before"), probe.Count("after")));
    }

    [Fact]
    public async Task AShortSleep_AndASleepUntilATimePassed_StayOnTheWorker()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new Nap(probe, async c =>
            {
                await c.SleepAsync(TimeSpan.FromMilliseconds(50));
                await c.SleepUntilAsync(DateTimeOffset.UtcNow.AddDays(-1));
            }))
            .StartAsync();

        var run = await engine.Client.StartAsync<Nap>("now");

        Assert.Equal("now!?", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        var steps = await run.GetStepsAsync();
        Assert.Equal(["before", "sleep", "sleep", "after"], steps.Select(s => s.Name));
        Assert.All(steps, s => Assert.Equal((StepStatus.Completed, steps[0].Epoch), (s.Status, s.Epoch))); // one claim: it never left
    }

    [Fact]
    public async Task CancellingASleepingRun_CancelsItAtOnce()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Nap(probe, c => c.SleepAsync(Week))).StartAsync();
        var run = await engine.Client.StartAsync<Nap>("never");
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");

        var cancelled = await run.CancelAsync();

        Assert.Equal(RunStatus.Cancelled, cancelled.Status);
        await Assert.ThrowsAsync<RunCancelledException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, probe.Count("after"));
    }

    private sealed class Sleeper : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            await context.SleepAsync(TimeSpan.FromDays(1));
            return input;
        }
    }

    private sealed class Quick : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => context.StepAsync("double", _ => Task.FromResult(input * 2));
    }

    [Fact]
    public async Task TenThousandSleepingRuns_HoldNoSlot_AndAFourSlotWorkerRunsOtherWorkMeanwhile()
    {
        const int Sleeping = 10_000;
        await using var engine = await TestEngines.Builder(database, output)
            .ConfigureWorker(w => w.MaxConcurrentRuns = 4)
            .AddWorkflow<Sleeper>()
            .AddWorkflow<Quick>()
            .StartAsync();
        var sleepers = await engine.Client.StartManyAsync<Sleeper>(Enumerable.Range(0, Sleeping).Select(i => (object?)i));
        await Eventually.HoldsAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE id = ANY($1) AND status = 'waiting'", (object)sleepers.ToArray()) == Sleeping,
            "every sleeper sleeps",
            TimeSpan.FromMinutes(2));

        var quick = await engine.Client.StartManyAsync<Quick>(Enumerable.Range(0, 200).Select(i => (object?)i));

        foreach (var (id, i) in quick.Select((id, i) => (id, i)))
        {
            Assert.Equal(i * 2, await engine.Client.GetHandle<Quick>(id).GetResultAsync(TimeSpan.FromSeconds(60)));
        }

        Assert.Equal(Sleeping, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE id = ANY($1) AND status = 'waiting'", (object)sleepers.ToArray()));
        Assert.Equal(Sleeping, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.steps WHERE run_id = ANY($1) AND name = 'sleep'", (object)sleepers.ToArray()));
    }

    [Fact]
    public async Task ANegativeSleep_IsRefused()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output)
            .Configure(o => o.RunRetry = RetryPolicy.None)
            .AddWorkflow(_ => new Nap(probe, c => c.SleepAsync(TimeSpan.FromSeconds(-1))))
            .StartAsync();

        var run = await engine.Client.StartAsync<Nap>("back");

        var failure = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("duration", failure.Error!.Message, StringComparison.Ordinal);
    }
}
