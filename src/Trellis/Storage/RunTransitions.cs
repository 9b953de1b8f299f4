namespace Trellis.Storage;

/// <summary>The ways a run's row leaves the hands of the worker that held it.</summary>
public enum RunTransitionKind
{
    /// <summary>The workflow returned its output.</summary>
    Completed,

    /// <summary>The run failed for good.</summary>
    Failed,

    /// <summary>A caller cancelled the run.</summary>
    Cancelled,

    /// <summary>The attempt failed; the run is tried again after a delay.</summary>
    Retry,

    /// <summary>The worker shut down before the run finished.</summary>
    Release,

    /// <summary>The run waits without a worker until a wake-up time (or for good).</summary>
    Suspend,

    /// <summary>The worker was lost (its lease expired, its claim window never closed, it restarted).</summary>
    WorkerLost,
}

/// <summary>When a run may be claimed again after a transition.</summary>
public enum TransitionSchedule
{
    /// <summary>As it was: a released run keeps its place in the queue; a finished run is never claimed again.</summary>
    Keep,

    /// <summary>After the retry delay, on the store's clock.</summary>
    AfterDelay,

    /// <summary>At once.</summary>
    Now,

    /// <summary>At the wake-up time (never, without one).</summary>
    WakeTime,
}

/// <summary>
/// What one transition does to the run's row: its new status, how its charged attempts change (a claim charges one; a
/// transition that is not the workflow's failure gives it back), when it may be claimed again, and whether a cancel
/// requested before the transition commits turns it into a cancellation. Whether workers or waiters are told follows
/// from the status: a pending run wakes the workers of its queue, a finished one the callers awaiting it.
/// <see cref="HistoryEvent"/> is what the run's history records for it (<see cref="RunHistoryEvents"/>).
/// </summary>
public sealed record RunTransition(RunTransitionKind Kind, RunStatus Status, int AttemptChange, TransitionSchedule Schedule, bool CancelWins, string HistoryEvent)
{
    /// <summary>True when the run is finished after it (completed, failed, cancelled).</summary>
    public bool Finishes => Status.IsTerminal();
}

/// <summary>
/// Every run transition, in one table: the store's statements are built from it (Trellis.Postgres), the engine reads
/// it, and a conformance test checks that a store does what it says.
/// </summary>
public static class RunTransitions
{
    /// <summary>The table.</summary>
    public static IReadOnlyList<RunTransition> All { get; } =
    [
        new(RunTransitionKind.Completed, RunStatus.Completed, AttemptChange: 0, TransitionSchedule.Keep, CancelWins: true, RunHistoryEvents.Completed),
        new(RunTransitionKind.Failed, RunStatus.Failed, AttemptChange: 0, TransitionSchedule.Keep, CancelWins: false, RunHistoryEvents.Failed),
        new(RunTransitionKind.Cancelled, RunStatus.Cancelled, AttemptChange: 0, TransitionSchedule.Keep, CancelWins: false, RunHistoryEvents.Cancelled),
        new(RunTransitionKind.Retry, RunStatus.Pending, AttemptChange: 0, TransitionSchedule.AfterDelay, CancelWins: true, RunHistoryEvents.Retried),
        new(RunTransitionKind.Release, RunStatus.Pending, AttemptChange: -1, TransitionSchedule.Keep, CancelWins: true, RunHistoryEvents.Released),
        new(RunTransitionKind.Suspend, RunStatus.Waiting, AttemptChange: -1, TransitionSchedule.WakeTime, CancelWins: true, RunHistoryEvents.Waiting),
        new(RunTransitionKind.WorkerLost, RunStatus.Pending, AttemptChange: -1, TransitionSchedule.Now, CancelWins: true, RunHistoryEvents.WorkerLost),
    ];

    /// <summary>The transition of <paramref name="kind"/>.</summary>
    public static RunTransition Of(RunTransitionKind kind) => All[(int)kind];

    /// <summary>The transition a worker's outcome makes.</summary>
    public static RunTransition Of(RunFinishKind kind) => Of(kind switch
    {
        RunFinishKind.Completed => RunTransitionKind.Completed,
        RunFinishKind.Failed => RunTransitionKind.Failed,
        RunFinishKind.Cancelled => RunTransitionKind.Cancelled,
        RunFinishKind.Retry => RunTransitionKind.Retry,
        RunFinishKind.Release => RunTransitionKind.Release,
        RunFinishKind.Suspend => RunTransitionKind.Suspend,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    });
}
