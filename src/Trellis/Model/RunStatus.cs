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

    /// <summary>Stopped at a step boundary because a caller asked for it.</summary>
    Cancelled,
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

/// <summary>Converts statuses to and from their stored text.</summary>
public static class StatusText
{
    /// <summary>The status as stored in <c>runs.status</c>.</summary>
    public static string ToText(this RunStatus status) => status switch
    {
        RunStatus.Pending => "pending",
        RunStatus.Running => "running",
        RunStatus.Completed => "completed",
        RunStatus.Failed => "failed",
        RunStatus.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>The status as stored in <c>steps.status</c>.</summary>
    public static string ToText(this StepStatus status) => status switch
    {
        StepStatus.Running => "running",
        StepStatus.Completed => "completed",
        StepStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>Reads a <c>runs.status</c> value.</summary>
    public static RunStatus ParseRunStatus(string text) => text switch
    {
        "pending" => RunStatus.Pending,
        "running" => RunStatus.Running,
        "completed" => RunStatus.Completed,
        "failed" => RunStatus.Failed,
        "cancelled" => RunStatus.Cancelled,
        _ => throw new FormatException($"Unknown run status '{text}'."),
    };

    /// <summary>Reads a <c>steps.status</c> value.</summary>
    public static StepStatus ParseStepStatus(string text) => text switch
    {
        "running" => StepStatus.Running,
        "completed" => StepStatus.Completed,
        "failed" => StepStatus.Failed,
        _ => throw new FormatException($"Unknown step status '{text}'."),
    };

    /// <summary>True for the states a run never leaves.</summary>
    public static bool IsTerminal(this RunStatus status) =>
        status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled;
}
