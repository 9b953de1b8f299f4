namespace Trellis;

/// <summary>The lifecycle state of a run. Stored in <c>runs.status</c> as lower-case text.</summary>
public enum RunStatus
{
    /// <summary>Waiting in the queue for a worker (new, scheduled, or waiting to be retried).</summary>
    Pending,

    /// <summary>Held by a worker under a lease.</summary>
    Running,

    /// <summary>Finished with an output.</summary>
    Completed,

    /// <summary>Finished with an error after its attempts were used up, or at once for a permanent error.</summary>
    Failed,

    /// <summary>Stopped because a caller asked for it.</summary>
    Cancelled,

    /// <summary>
    /// Holding no worker while it waits (a timer, an event, its children) until <see cref="RunInfo.ScheduledAt"/> at
    /// the latest; then it is ready again and resumes after its last checkpoint.
    /// </summary>
    Waiting,
}

/// <summary>The state of one step row. Stored in <c>steps.status</c> as lower-case text.</summary>
public enum StepStatus
{
    /// <summary>In flight, or waiting for its next attempt after a failed one.</summary>
    Running,

    /// <summary>Finished; its result is stored and is returned on replay.</summary>
    Completed,

    /// <summary>Failed permanently or used up its attempts.</summary>
    Failed,
}

/// <summary>Converts statuses to and from their stored text, the one place that text is written.</summary>
public static class StatusText
{
    /// <summary>Stored text of <see cref="RunStatus.Pending"/>.</summary>
    public const string Pending = "pending";

    /// <summary>Stored text of <see cref="RunStatus.Running"/> and <see cref="StepStatus.Running"/>.</summary>
    public const string Running = "running";

    /// <summary>Stored text of <see cref="RunStatus.Waiting"/>.</summary>
    public const string Waiting = "waiting";

    /// <summary>Stored text of <see cref="RunStatus.Completed"/> and <see cref="StepStatus.Completed"/>.</summary>
    public const string Completed = "completed";

    /// <summary>Stored text of <see cref="RunStatus.Failed"/> and <see cref="StepStatus.Failed"/>.</summary>
    public const string Failed = "failed";

    /// <summary>Stored text of <see cref="RunStatus.Cancelled"/>.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The status as stored in <c>runs.status</c>.</summary>
    public static string ToText(this RunStatus status) => status switch
    {
        RunStatus.Pending => Pending,
        RunStatus.Running => Running,
        RunStatus.Waiting => Waiting,
        RunStatus.Completed => Completed,
        RunStatus.Failed => Failed,
        RunStatus.Cancelled => Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>The status as stored in <c>steps.status</c>.</summary>
    public static string ToText(this StepStatus status) => status switch
    {
        StepStatus.Running => Running,
        StepStatus.Completed => Completed,
        StepStatus.Failed => Failed,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>Reads a <c>runs.status</c> value.</summary>
    public static RunStatus ParseRunStatus(string text) => text switch
    {
        Pending => RunStatus.Pending,
        Running => RunStatus.Running,
        Waiting => RunStatus.Waiting,
        Completed => RunStatus.Completed,
        Failed => RunStatus.Failed,
        Cancelled => RunStatus.Cancelled,
        _ => throw new FormatException($"Unknown run status '{text}'."),
    };

    /// <summary>Reads a <c>steps.status</c> value.</summary>
    public static StepStatus ParseStepStatus(string text) => text switch
    {
        Running => StepStatus.Running,
        Completed => StepStatus.Completed,
        Failed => StepStatus.Failed,
        _ => throw new FormatException($"Unknown step status '{text}'."),
    };

    /// <summary>True for the states a run never leaves.</summary>
    public static bool IsTerminal(this RunStatus status) =>
        status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled;
}
