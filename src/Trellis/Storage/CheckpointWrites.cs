namespace Trellis.Storage;

/// <summary>One write of a checkpoint batch, fenced by the epoch of the run it belongs to.</summary>
public abstract record CheckpointWrite
{
    public required string RunId { get; init; }
    public required long Epoch { get; init; }

    /// <summary>Set by the store when the write took effect; false means it was fenced off.</summary>
    public bool Applied { get; set; }
}

/// <summary>Upserts one row of <c>steps</c>.</summary>
public sealed record StepWrite : CheckpointWrite
{
    public required int Sequence { get; init; }
    public int? ItemIndex { get; init; }
    public required string Name { get; init; }
    public required StepStatus Status { get; init; }
    public string? ResultJson { get; init; }

    /// <summary>The latest error (JSON), or null.</summary>
    public string? ErrorJson { get; init; }

    /// <summary>Errors (JSON objects) to append to <c>attempt_errors</c>.</summary>
    public IReadOnlyList<string> NewErrorsJson { get; init; } = [];

    public required int Attempts { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }

    internal (string RunId, int Sequence, int Item) Key => (RunId, Sequence, ItemIndex ?? -1);
}

/// <summary>Saves a run's progress.</summary>
public sealed record ProgressWrite : CheckpointWrite
{
    public required double Percent { get; init; }
    public string? Message { get; init; }
}

/// <summary>How a worker is done with a run.</summary>
public enum RunFinishKind
{
    Completed,
    Failed,
    Cancelled,

    /// <summary>The attempt failed; the run goes back to the queue after <see cref="RunFinish.RetryDelay"/>.</summary>
    Retry,

    /// <summary>The worker is shutting down; the run goes back to the queue and the attempt is not charged.</summary>
    Release,
}

/// <summary>Ends a worker's hold on a run.</summary>
public sealed record RunFinish : CheckpointWrite
{
    public required RunFinishKind Kind { get; init; }
    public string? OutputJson { get; init; }
    public string? ErrorJson { get; init; }

    /// <summary>For <see cref="RunFinishKind.Retry"/>: how long to wait, measured on the store's clock.</summary>
    public TimeSpan RetryDelay { get; init; }

    /// <summary>
    /// Set by the store when this outcome (completed, retry or release) was written as a cancellation instead: a
    /// caller asked to cancel the run before the outcome committed.
    /// </summary>
    public bool CancelledInstead { get; set; }

    /// <summary>
    /// For <see cref="RunFinishKind.Retry"/>: the step position whose failed rows go back to
    /// <c>running</c>, so that the next attempt runs that step again instead of replaying its failure.
    /// </summary>
    public int? ResetStepSequence { get; init; }
}

/// <summary>A group of writes committed together.</summary>
public sealed class CheckpointBatch
{
    public List<StepWrite> Steps { get; } = [];
    public List<ProgressWrite> Progress { get; } = [];
    public List<RunFinish> Finishes { get; } = [];

    public int Count => Steps.Count + Progress.Count + Finishes.Count;

    public IEnumerable<CheckpointWrite> All() => Steps.Cast<CheckpointWrite>().Concat(Progress).Concat(Finishes);
}
