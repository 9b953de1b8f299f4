namespace Trellis;

/// <summary>
/// One event of a run's history, in the order they happened (see <see cref="RunHistoryEvents"/>). Most are rows of the
/// append-only <c>history</c> table, written by the statements that made them happen; the run's creation and its steps'
/// events are read from <c>runs</c> and <c>steps</c>, which hold them already, so a step costs no history row.
/// </summary>
public sealed record RunHistoryEntry
{
    /// <summary>The event's row in <c>history</c>; null for the events read from <c>runs</c> and <c>steps</c>.</summary>
    public long? Id { get; init; }

    /// <summary>The run the event belongs to.</summary>
    public required string RunId { get; init; }

    /// <summary>When the store recorded the event (the database's clock).</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>What happened; one of <see cref="RunHistoryEvents"/>.</summary>
    public required string Event { get; init; }

    /// <summary>The worker the event concerns, where there is one: the worker that claimed the run, ran the step, or was lost.</summary>
    public string? WorkerId { get; init; }

    /// <summary>The epoch of the claim the event concerns, where there is one.</summary>
    public long? Epoch { get; init; }

    /// <summary>The run attempt the event happened in, where there is one.</summary>
    public int? Attempt { get; init; }

    /// <summary>More about the event, as a JSON object: the step (<c>seq</c>, <c>item</c>, <c>name</c>), the error, the wait's reason, the event, the child.</summary>
    public string? DetailJson { get; init; }
}

/// <summary>The events a run's history records.</summary>
public static class RunHistoryEvents
{
    /// <summary>The run was created (read from <c>runs.created_at</c>).</summary>
    public const string Created = "created";

    /// <summary>A worker claimed the run (its worker id, the claim's epoch, the attempt).</summary>
    public const string Claimed = "claimed";

    /// <summary>A step (or an item of a per-item step) started: read from its row in <c>steps</c> (<c>detail.seq, item, name</c>).</summary>
    public const string StepStarted = "step_started";

    /// <summary>A step completed, after <see cref="RunHistoryEntry.Attempt"/> attempts (read from <c>steps</c>).</summary>
    public const string StepCompleted = "step_completed";

    /// <summary>An attempt of a step failed (<c>detail.error</c>; <c>detail.permanent</c> when it failed for good), read from <c>steps.attempt_errors</c>.</summary>
    public const string StepFailed = "step_failed";

    /// <summary>The run reported progress (<c>detail.percent, message</c>).</summary>
    public const string Progress = "progress";

    /// <summary>The run left its worker to wait (<c>detail.reason</c>: a sleep until a time, an event, child runs).</summary>
    public const string Waiting = "waiting";

    /// <summary>A waiting run was made ready again (<c>detail.by</c>: timer, event, children).</summary>
    public const string Woken = "woken";

    /// <summary>A wait of the run received an event (<c>detail.name, key, event_id</c>).</summary>
    public const string EventReceived = "event_received";

    /// <summary>A receive of the run got a message (<c>detail.topic, event_id</c>).</summary>
    public const string MessageReceived = "message_received";

    /// <summary>A wait for an event or a message timed out (<c>detail.name, key</c>).</summary>
    public const string WaitTimedOut = "wait_timed_out";

    /// <summary>The run started a child run (<c>detail.child, workflow</c>).</summary>
    public const string ChildStarted = "child_started";

    /// <summary>A child run the run waits for finished (<c>detail.child, status</c>).</summary>
    public const string ChildFinished = "child_finished";

    /// <summary>A caller asked to cancel the run (or its parent's cancel reached it: <c>detail.via</c>).</summary>
    public const string CancelRequested = "cancel_requested";

    /// <summary>
    /// The run's worker was lost while it held the run: its lease expired (<c>detail.reason = "lease_expired"</c>)
    /// or its claim window never closed (<c>"claim_window_lost"</c>). <c>detail.losses</c> counts the losses so
    /// far, <c>detail.max_losses</c> is the run's limit.
    /// </summary>
    public const string WorkerLost = "worker_lost";

    /// <summary>The run's worker gave it back as it shut down; it kept its place in the queue.</summary>
    public const string Released = "released";

    /// <summary>The run's code failed and it goes back to the queue for another attempt (<c>detail.error</c>).</summary>
    public const string Retried = "retried";

    /// <summary>
    /// The run was resumed from its checkpoints (<c>TrellisClient.ResumeAsync</c>): <c>detail.from</c> is "cancelled" or
    /// "worker_losses"; <c>detail.via</c> names the run whose resume resumed it (a child cancelled with its parent).
    /// </summary>
    public const string Resumed = "resumed";

    /// <summary>A caller asked to run a failed run again (<c>TrellisClient.RetryAsync</c>; <c>detail.error</c> is the error it had).</summary>
    public const string RetryRequested = "retry_requested";

    /// <summary>The run was made as a fork of another (<c>TrellisClient.ForkAsync</c>): <c>detail.from</c>, <c>detail.step</c>.</summary>
    public const string Forked = "forked";

    /// <summary>The run completed.</summary>
    public const string Completed = "completed";

    /// <summary>The run failed (<c>detail.error</c>).</summary>
    public const string Failed = "failed";

    /// <summary>The run was cancelled.</summary>
    public const string Cancelled = "cancelled";
}
