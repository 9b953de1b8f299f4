using Trellis.Storage;

namespace Trellis.Testing.StoreConformance;

/// <summary>
/// The store does what <see cref="RunTransitions"/> says: each outcome a worker writes, by a checkpoint batch or by
/// closing a claim window, and a lost worker's runs, leave the row in the transition's status, with its attempt
/// change and its next <c>scheduled_at</c>.
/// </summary>
public abstract partial class StoreConformanceTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMinutes(7);
    private static readonly DateTimeOffset WakeAt = new(2031, 3, 4, 5, 6, 7, TimeSpan.Zero);

    public static TheoryData<RunFinishKind> FinishKinds() => new(Enum.GetValues<RunFinishKind>());

    /// <summary>The outcomes a claim window writes: a released run is left out of the close, and stays pending.</summary>
    public static TheoryData<RunFinishKind> WindowFinishKinds() => new(Enum.GetValues<RunFinishKind>().Where(k => k != RunFinishKind.Release));

    [Theory]
    [MemberData(nameof(FinishKinds))]
    public async Task OutcomeWrittenInACheckpointBatch_LeavesTheRowAsItsTransitionSays(RunFinishKind kind)
    {
        await using var store = await NewStoreAsync();
        var (runId, scheduledAt) = await CreateRunAsync(store);
        var claimed = Assert.Single(await store.ClaimAsync(RequestFor(runId)));
        Assert.Equal(1, claimed.Attempt);

        var finish = Finish(kind, runId, claimed.Epoch);
        var batch = new CheckpointBatch();
        batch.Finishes.Add(finish);
        await store.CommitAsync(batch);

        Assert.Equal((true, false), (finish.Applied, finish.CancelledInstead));
        var run = (await store.GetRunAsync(runId))!;
        AssertTransition(RunTransitions.Of(kind), run, attemptBefore: 1, scheduledAt);
    }

    [Theory]
    [MemberData(nameof(WindowFinishKinds))]
    public async Task OutcomeWrittenByClosingAClaimWindow_LeavesTheRowAsItsTransitionSays(RunFinishKind kind)
    {
        await using var store = await NewStoreAsync();
        var (runId, scheduledAt) = await CreateRunAsync(store);
        await using var window = await store.OpenClaimWindowAsync(RequestFor(runId));
        var held = Assert.Single(window!.Runs);

        // The window charges the attempt as it closes: the run's attempt in the store was 0, the worker ran attempt 1.
        await window.CloseAsync([Finish(kind, runId, held.Epoch)], [], TimeSpan.FromSeconds(30));

        var run = (await store.GetRunAsync(runId))!;
        AssertTransition(RunTransitions.Of(kind), run, attemptBefore: 1, scheduledAt);
        Assert.Equal(held.Epoch, run.Epoch);
    }

    [Fact]
    public async Task ExpiredLease_TheWorkerLostTransition_PutsTheRunBackReadyNow_WithItsAttemptGivenBack()
    {
        await using var store = await NewStoreAsync();
        var (runId, scheduledAt) = await CreateRunAsync(store);
        Assert.Single(await store.ClaimAsync(RequestFor(runId) with { LeaseDuration = TimeSpan.FromSeconds(-1) }));

        Assert.True(await store.RecoverExpiredLeasesAsync(100) >= 1);

        var run = (await store.GetRunAsync(runId))!;
        AssertTransition(RunTransitions.Of(RunTransitionKind.WorkerLost), run, attemptBefore: 1, scheduledAt);
        Assert.Equal(1, run.WorkerLosses);
    }

    [Fact]
    public async Task SuspendWithoutAWakeUpTime_WaitsForGood_AndWithADelay_WakesAfterItOnTheStoresClock()
    {
        await using var store = await NewStoreAsync();
        var (forGood, _) = await CreateRunAsync(store);
        var (delayed, _) = await CreateRunAsync(store);
        var claims = new[] { Assert.Single(await store.ClaimAsync(RequestFor(forGood))), Assert.Single(await store.ClaimAsync(RequestFor(delayed))) };

        var batch = new CheckpointBatch();
        batch.Finishes.Add(new RunFinish { RunId = forGood, Epoch = claims[0].Epoch, Kind = RunFinishKind.Suspend, WaitReason = "event order-paid" });
        batch.Finishes.Add(new RunFinish { RunId = delayed, Epoch = claims[1].Epoch, Kind = RunFinishKind.Suspend, WakeAfter = Delay, WaitReason = "timer" });
        await store.CommitAsync(batch);

        var waitingForGood = (await store.GetRunAsync(forGood))!;
        Assert.Equal((RunStatus.Waiting, "event order-paid", DateTimeOffset.MaxValue), (waitingForGood.Status, waitingForGood.WaitReason, waitingForGood.ScheduledAt));
        var waitingDelayed = (await store.GetRunAsync(delayed))!;
        Assert.Equal((RunStatus.Waiting, "timer", waitingDelayed.UpdatedAt + Delay), (waitingDelayed.Status, waitingDelayed.WaitReason, waitingDelayed.ScheduledAt));

        // A waiting run is not ready: no claim takes it before its time.
        Assert.Empty(await store.ClaimAsync(RequestFor(delayed)));
    }

    [Fact]
    public async Task CancellingAWaitingRun_CancelsItAtOnce_AndTellsThoseAwaitingIt()
    {
        await using var store = await NewStoreAsync();
        var (runId, _) = await CreateRunAsync(store);
        var claimed = Assert.Single(await store.ClaimAsync(RequestFor(runId)));
        var batch = new CheckpointBatch();
        batch.Finishes.Add(new RunFinish { RunId = runId, Epoch = claimed.Epoch, Kind = RunFinishKind.Suspend, WaitReason = "event" });
        await store.CommitAsync(batch);

        var sink = new RecordingSink();
        using var listening = new CancellationTokenSource();
        var listener = store.ListenAsync(sink, listening.Token);
        await sink.Connected.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var cancelled = await store.RequestCancelAsync(runId);

        Assert.Equal((RunStatus.Cancelled, true, null), (cancelled!.Status, cancelled.CancelRequested, cancelled.WaitReason));
        Assert.NotNull(cancelled.CompletedAt);
        Assert.Equal(runId, await sink.Finished.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        await listening.CancelAsync();
        await listener.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static void AssertTransition(RunTransition transition, RunInfo run, int attemptBefore, DateTimeOffset scheduledBefore)
    {
        Assert.Equal(transition.Status, run.Status);
        Assert.Equal(attemptBefore + transition.AttemptChange, run.Attempt);
        Assert.Equal(transition.Finishes, run.CompletedAt is not null);
        Assert.Equal((null, null), (run.LockedBy, run.LeaseExpiresAt));
        Assert.Equal(transition.Kind == RunTransitionKind.Suspend ? "timer" : null, run.WaitReason);
        switch (transition.Schedule)
        {
            case TransitionSchedule.Keep:
                Assert.Equal(scheduledBefore, run.ScheduledAt);
                break;
            case TransitionSchedule.AfterDelay:
                // On the store's clock, from the moment the row was written (a window's close reads that clock twice).
                Assert.InRange(run.ScheduledAt - run.UpdatedAt, Delay - TimeSpan.FromSeconds(1), Delay);
                break;
            case TransitionSchedule.Now:
                Assert.InRange(run.UpdatedAt - run.ScheduledAt, TimeSpan.Zero, TimeSpan.FromSeconds(1));
                break;
            case TransitionSchedule.WakeTime:
                Assert.Equal(WakeAt, run.ScheduledAt);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(transition), transition.Schedule, null);
        }
    }

    private static RunFinish Finish(RunFinishKind kind, string runId, long epoch) => new()
    {
        RunId = runId,
        Epoch = epoch,
        Kind = kind,
        OutputJson = "\"out\"",
        ErrorJson = """{"type":"E","message":"m"}""",
        RetryDelay = Delay,
        WakeAt = WakeAt,
        WaitReason = "timer",
    };

    /// <summary>A run in a queue of its own, scheduled an hour back so that keeping and resetting its time differ.</summary>
    private static async Task<(string RunId, DateTimeOffset ScheduledAt)> CreateRunAsync(IWorkflowStore store)
    {
        var runId = $"t-{Guid.NewGuid():N}";
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(-1);
        scheduledAt = scheduledAt.AddTicks(-(scheduledAt.Ticks % TimeSpan.TicksPerMillisecond)); // PostgreSQL keeps microseconds
        await store.CreateRunsAsync([new NewRun(runId, "Wf", 1, QueueOf(runId), 0, "{}", null, NoTags, 3, scheduledAt)]);
        return (runId, scheduledAt);
    }

    private static ClaimRequest RequestFor(string runId) => Request(QueueOf(runId));

    private sealed class RecordingSink : IStoreNotificationSink
    {
        public TaskCompletionSource Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<string> Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnListening() => Connected.TrySetResult();
        public void OnWorkAvailable(string queue) { }
        public void OnRunsFinished(IReadOnlyList<string> runIds) => Finished.TrySetResult(runIds is [var only] ? only : "?");

        public void OnRunReopened(string runId)
        {
        }
        public void OnCancelRequested(string runId) { }
        public void OnListenerLost(Exception exception) { }
    }
}
