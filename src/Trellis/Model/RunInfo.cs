namespace Trellis;

/// <summary>A snapshot of one row of <c>runs</c>.</summary>
public sealed record RunInfo
{
    public required string Id { get; init; }
    public required string WorkflowName { get; init; }
    public required int WorkflowVersion { get; init; }
    public required RunStatus Status { get; init; }
    public required string Queue { get; init; }
    public int Priority { get; init; }

    /// <summary>The run's input as stored (JSON).</summary>
    public string? InputJson { get; init; }

    /// <summary>The run's output (JSON) once it has completed.</summary>
    public string? OutputJson { get; init; }

    public ErrorInfo? Error { get; init; }
    public string? CorrelationId { get; init; }
    public IReadOnlyDictionary<string, string> Tags { get; init; } = EmptyTags;

    /// <summary>Progress reported by the workflow with <c>ReportProgressAsync</c>, 0–100.</summary>
    public double? ProgressPercent { get; init; }

    public string? ProgressMessage { get; init; }

    /// <summary>
    /// How many attempts have been charged against <see cref="MaxAttempts"/>: the current one while the run is held,
    /// and those that ended in the workflow's own errors. A worker loss gives its attempt back (see <see cref="WorkerLosses"/>).
    /// </summary>
    public int Attempt { get; init; }

    public int MaxAttempts { get; init; }

    /// <summary>
    /// How many times the run lost its worker: a lease that expired (the worker died, froze or was cut off) or a claim
    /// window that never closed. Counted apart from <see cref="Attempt"/>, against <see cref="MaxWorkerLosses"/>;
    /// every loss is in the run's history. Back to zero when the run is resumed.
    /// </summary>
    public int WorkerLosses { get; init; }

    /// <summary>
    /// Worker losses the run survives. One more fails it with the error type
    /// <c>Trellis.WorkerLossLimitExceeded</c>, its checkpoints kept; <c>ResumeAsync</c> resumes it.
    /// </summary>
    public int MaxWorkerLosses { get; init; }

    /// <summary>
    /// The fencing token of the claim that holds (or last held) the run: every claim gives the run a new one, which no
    /// other claim shares. Writes carrying any other epoch are refused.
    /// </summary>
    public long Epoch { get; init; }

    /// <summary>The worker holding the run's lease, while it runs.</summary>
    public string? LockedBy { get; init; }

    public DateTimeOffset? LeaseExpiresAt { get; init; }
    public bool CancelRequested { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ScheduledAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }

    internal static readonly IReadOnlyDictionary<string, string> EmptyTags = new Dictionary<string, string>();
}
