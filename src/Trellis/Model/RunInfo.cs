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

    /// <summary>How many attempts have been charged against <see cref="MaxAttempts"/>.</summary>
    public int Attempt { get; init; }

    public int MaxAttempts { get; init; }

    /// <summary>The fencing token: raised by every claim.</summary>
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
