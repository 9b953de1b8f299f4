namespace Trellis;

/// <summary>A snapshot of one row of <c>runs</c>.</summary>
public sealed record RunInfo
{
    /// <summary>The run id.</summary>
    public required string Id { get; init; }

    /// <summary>The workflow the run runs.</summary>
    public required string WorkflowName { get; init; }

    /// <summary>The workflow's version.</summary>
    public required int WorkflowVersion { get; init; }

    /// <summary>Where the run is in its life: pending, running, completed, failed or cancelled.</summary>
    public required RunStatus Status { get; init; }

    /// <summary>The queue the run waits in.</summary>
    public required string Queue { get; init; }

    /// <summary>Its priority among the ready runs of its queue; higher first.</summary>
    public int Priority { get; init; }

    /// <summary>The run's input as stored (JSON).</summary>
    public string? InputJson { get; init; }

    /// <summary>The run's output (JSON) once it has completed.</summary>
    public string? OutputJson { get; init; }

    /// <summary>The error of the last failed attempt, or of the run once it failed.</summary>
    public ErrorInfo? Error { get; init; }

    /// <summary>The caller's id tying related runs together, if one was given.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>String key/value pairs stored with the run.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = EmptyTags;

    /// <summary>Progress reported by the workflow with <c>ReportProgressAsync</c>, 0–100.</summary>
    public double? ProgressPercent { get; init; }

    /// <summary>The message of the last progress the workflow reported.</summary>
    public string? ProgressMessage { get; init; }

    /// <summary>
    /// How many attempts have been charged against <see cref="MaxAttempts"/>: the current one while the run is held,
    /// and those that ended in the workflow's own errors. A worker loss gives its attempt back (see <see cref="WorkerLosses"/>).
    /// </summary>
    public int Attempt { get; init; }

    /// <summary>Attempts the run may use (<see cref="StartOptions.MaxAttempts"/>).</summary>
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

    /// <summary>When the holder's lease runs out (the database's clock), while the run is held.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; init; }

    /// <summary>True once a caller asked to cancel the run.</summary>
    public bool CancelRequested { get; init; }

    /// <summary>When the run was started (created).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the run may start, or be retried; the queue orders ready runs by it.</summary>
    public DateTimeOffset ScheduledAt { get; init; }

    /// <summary>When a worker first began the run.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the row last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When the run finished (completed, failed or cancelled); null while it is live.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>What a <see cref="RunStatus.Waiting"/> run waits for (a timer, an event); null in every other status.</summary>
    public string? WaitReason { get; init; }

    /// <summary>The run that started this one as its child (<see cref="WorkflowContext.StartChildAsync{TWorkflow}"/>); null for a run a client started.</summary>
    public string? ParentRunId { get; init; }

    /// <summary>The run this one is a fork of (<c>TrellisClient.ForkAsync</c>); null for a run that was started.</summary>
    public string? ForkedFromRunId { get; init; }

    /// <summary>For a fork, the step position it ran again from: the steps before it were copied from <see cref="ForkedFromRunId"/>.</summary>
    public int? ForkedAtStep { get; init; }

    internal static readonly IReadOnlyDictionary<string, string> EmptyTags = new Dictionary<string, string>();
}
