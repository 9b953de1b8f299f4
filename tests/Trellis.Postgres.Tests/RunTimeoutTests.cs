namespace Trellis.Postgres.Tests;

/// <summary>
/// A run's deadline (<see cref="StartOptions.Timeout"/>) covers its whole life: running, waiting for an event or a
/// timer, or still in the queue; a run not finished by then ends failed with a <see cref="RunTimedOutException"/>.
/// </summary>
public sealed class RunTimeoutTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(1500);

    /// <summary>Does what its input says: "step" runs a step that waits on a gate, "event" waits for an event, "sleep" sleeps a week.</summary>
    private sealed class Slow(Probe probe) : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string input)
        {
            probe.Hit("body");
            switch (input)
            {
                case "step":
                    await context.StepAsync("wait", ct => probe.Gate("never").WaitAsync(ct));
                    break;
                case "event":
                    await context.WaitForEventAsync<int>("never", context.RunId);
                    break;
                case "sleep":
                    await context.SleepAsync(TimeSpan.FromDays(7));
                    break;
            }

            return "done";
        }
    }

    [Theory]
    [InlineData("step")]
    [InlineData("event")]
    [InlineData("sleep")]
    public async Task ARunPastItsDeadline_FailsTimedOut_WhereverItIs(string what)
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Slow(probe)).StartAsync();
        var started = DateTimeOffset.UtcNow;
        var run = await engine.Client.StartAsync<Slow>(what, new StartOptions { Timeout = Deadline });

        var outcome = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(RunStatus.Failed, outcome.Status);
        Assert.Equal((typeof(RunTimedOutException).FullName, true), (outcome.Error!.Type, outcome.Error.Permanent));
        Assert.InRange(DateTimeOffset.UtcNow - started, Deadline - TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(20));
        var info = await run.GetAsync();
        Assert.Equal(RunStatus.Failed, info.Status);
        Assert.Contains(RunHistoryEvents.Failed, (await run.GetHistoryAsync()).RunEvents());
    }

    [Fact]
    public async Task ARunStillQueuedAtItsDeadline_FailsWithoutRunning()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Slow(probe)).StartAsync();
        var run = await engine.Client.StartAsync<Slow>("nothing", new StartOptions { Timeout = TimeSpan.FromMilliseconds(200), Delay = TimeSpan.FromMilliseconds(700) });

        var outcome = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((RunStatus.Failed, typeof(RunTimedOutException).FullName), (outcome.Status, outcome.Error?.Type));
        Assert.Equal(0, probe.Count("body"));
    }

    [Fact]
    public async Task ARunThatFinishesInTime_IsNotTouched()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Slow(probe)).StartAsync();
        var run = await engine.Client.StartAsync<Slow>("nothing", new StartOptions { Timeout = TimeSpan.FromMinutes(5) });

        Assert.Equal("done", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.NotNull(await database.ScalarAsync<DateTime?>("SELECT deadline_at FROM {schema}.runs WHERE id = $1", run.RunId));
    }

    [Fact]
    public async Task ATimeoutThatIsNotPositive_IsRefused()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Slow(new Probe())).StartAsync();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.StartAsync<Slow>("x", new StartOptions { Timeout = TimeSpan.Zero }));
        Assert.Contains("Timeout", error.Message, StringComparison.Ordinal);
    }
}
