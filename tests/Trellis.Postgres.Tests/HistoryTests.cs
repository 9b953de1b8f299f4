namespace Trellis.Postgres.Tests;

/// <summary>
/// A run's history, as <c>GetHistoryAsync</c> reads it: what happened, in order, with the worker and the attempt; the
/// steps' events come from their rows, the rest from the history table, written by the statements that did it.
/// </summary>
public sealed class HistoryTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>A step that fails once, progress, a durable sleep, a wait for an event, a child, and a last step.</summary>
    private sealed class Story(Probe probe) : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string input)
        {
            var flaky = await context.StepAsync("flaky", _ => probe.Hit("flaky") == 1
                ? throw new TimeoutException("first try fails")
                : Task.FromResult(input), new StepOptions { Retry = TestEngines.QuickRetry });
            await context.ReportProgressAsync(50, "half way");
            await context.SleepAsync(TimeSpan.FromMilliseconds(1200));
            var paid = await context.WaitForEventAsync<int>("paid", input);
            var child = await context.Child<Echo>().StartAsync(flaky);
            return $"{await child} {paid.Data}";
        }
    }

    /// <summary>Echoes its input once the gate "echo" opens.</summary>
    private sealed class Echo(Probe probe) : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string input)
        {
            await probe.Gate("echo").WaitAsync(context.CancellationToken);
            return input + "!";
        }
    }

    [Fact]
    public async Task TheHistory_TellsWhatHappened_InOrder_WithTheWorker()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new Story(probe)).AddWorkflow(_ => new Echo(probe))
            .StartAsync();
        var run = await engine.Client.StartAsync<Story>("h-1");
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).WaitReason?.StartsWith("event", StringComparison.Ordinal) == true, "the run waits for its event");
        await engine.Client.PublishEventAsync("paid", "h-1", 7);
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).WaitReason == "a child run", "the run waits for its child");
        probe.Open("echo");
        Assert.Equal("h-1! 7", await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        var history = await run.GetHistoryAsync();
        output.WriteLine(string.Join("\n", history.Select(h => $"{h.At:HH:mm:ss.fff} {h.Event} {h.WorkerId} {h.Epoch} {h.Attempt} {h.DetailJson}")));

        string[] expected =
        [
            RunHistoryEvents.Created, RunHistoryEvents.Claimed, RunHistoryEvents.Progress,
            RunHistoryEvents.Waiting, RunHistoryEvents.Woken, RunHistoryEvents.Claimed, // the sleep
            RunHistoryEvents.Waiting, RunHistoryEvents.EventReceived, RunHistoryEvents.Woken, RunHistoryEvents.Claimed, // the event
            RunHistoryEvents.ChildStarted, RunHistoryEvents.Waiting, RunHistoryEvents.ChildFinished, RunHistoryEvents.Woken, RunHistoryEvents.Claimed, // the child
            RunHistoryEvents.Completed,
        ];
        Assert.Equal(expected, history.RunEvents());
        Assert.True(history.Zip(history.Skip(1)).All(p => p.First.At <= p.Second.At), "in time order");

        var workerId = engine.Worker!.WorkerId;
        Assert.All(history.Where(h => h.Event is RunHistoryEvents.Claimed or RunHistoryEvents.Completed), h => Assert.Equal(workerId, h.WorkerId));
        var failed = Assert.Single(history, h => h.Event == RunHistoryEvents.StepFailed);
        Assert.Equal((1, workerId), (failed.Attempt, failed.WorkerId));
        Assert.Contains("first try fails", failed.DetailJson, StringComparison.Ordinal);
        var flaky = Assert.Single(history, h => h.Event == RunHistoryEvents.StepCompleted && h.DetailJson!.Contains("\"flaky\"", StringComparison.Ordinal));
        Assert.Equal(2, flaky.Attempt);
        Assert.True(failed.At <= flaky.At);
        Assert.Contains("sleep until", Assert.Single(history, h => h.Event == RunHistoryEvents.Waiting && h.DetailJson!.Contains("sleep", StringComparison.Ordinal)).DetailJson, StringComparison.Ordinal);
        Assert.Contains("\"half way\"", Assert.Single(history, h => h.Event == RunHistoryEvents.Progress).DetailJson, StringComparison.Ordinal);
        Assert.Contains($"\"{run.RunId}:3\"", Assert.Single(history, h => h.Event == RunHistoryEvents.ChildFinished).DetailJson, StringComparison.Ordinal);

        // The child's own history: created, claimed, completed.
        Assert.Equal([RunHistoryEvents.Created, RunHistoryEvents.Claimed, RunHistoryEvents.Completed],
            (await engine.Client.GetHistoryAsync($"{run.RunId}:3")).RunEvents());
    }

    [Fact]
    public async Task ACancelledWaitingRun_RecordsTheRequestAndTheCancel()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new Story(probe)).AddWorkflow(_ => new Echo(probe))
            .StartAsync();
        var run = await engine.Client.StartAsync<Story>("h-2");
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).WaitReason?.StartsWith("event", StringComparison.Ordinal) == true, "the run waits for its event");

        await run.CancelAsync();

        var history = await run.GetHistoryAsync();
        Assert.Equal([RunHistoryEvents.Waiting, RunHistoryEvents.CancelRequested, RunHistoryEvents.Cancelled], history.RunEvents().TakeLast(3));
    }
}
