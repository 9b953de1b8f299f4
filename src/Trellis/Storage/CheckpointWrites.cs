namespace Trellis.Storage;

/// <summary>One write of a checkpoint batch, fenced by the epoch of the run it belongs to.</summary>
public abstract record CheckpointWrite
{
    /// <summary>The run written to.</summary>
    public required string RunId { get; init; }

    /// <summary>The epoch of the claim under which the worker writes; the write applies only while the run still has it.</summary>
    public required long Epoch { get; init; }

    /// <summary>Set by the store when the write took effect; false means it was fenced off.</summary>
    public bool Applied { get; set; }
}

/// <summary>Upserts one row of <c>steps</c>.</summary>
public sealed record StepWrite : CheckpointWrite
{
    /// <summary>The step's position in the run.</summary>
    public required int Sequence { get; init; }

    /// <summary>The item's index, for a per-item step; null for a plain step.</summary>
    public int? ItemIndex { get; init; }

    /// <summary>The step's name.</summary>
    public required string Name { get; init; }

    /// <summary>The row's status after this write.</summary>
    public required StepStatus Status { get; init; }

    /// <summary>The step's result (JSON), once it completed.</summary>
    public string? ResultJson { get; init; }

    /// <summary>The latest error (JSON), or null.</summary>
    public string? ErrorJson { get; init; }

    /// <summary>Errors (JSON objects) to append to <c>attempt_errors</c>.</summary>
    public IReadOnlyList<string> NewErrorsJson { get; init; } = [];

    /// <summary>Attempts made so far.</summary>
    public required int Attempts { get; init; }

    /// <summary>When the step's attempt started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>When the step completed or failed for good; null otherwise.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    internal (string RunId, int Sequence, int Item) Key => (RunId, Sequence, ItemIndex ?? -1);
}

/// <summary>Saves a run's progress.</summary>
public sealed record ProgressWrite : CheckpointWrite
{
    /// <summary>Progress, 0–100.</summary>
    public required double Percent { get; init; }

    /// <summary>A message to go with it.</summary>
    public string? Message { get; init; }
}

/// <summary>How a worker is done with a run.</summary>
public enum RunFinishKind
{
    /// <summary>The workflow returned its output.</summary>
    Completed,

    /// <summary>The run failed for good.</summary>
    Failed,

    /// <summary>The run stopped because a caller cancelled it.</summary>
    Cancelled,

    /// <summary>The attempt failed; the run goes back to the queue after <see cref="RunFinish.RetryDelay"/>.</summary>
    Retry,

    /// <summary>The worker is shutting down; the run goes back to the queue and the attempt is not charged.</summary>
    Release,

    /// <summary>
    /// The run waits without a worker (<see cref="RunStatus.Waiting"/>) until <see cref="RunFinish.WakeAt"/>, or
    /// <see cref="RunFinish.WakeAfter"/> on the store's clock, or for good when neither is set; the attempt is given back.
    /// </summary>
    Suspend,
}

/// <summary>Ends a worker's hold on a run.</summary>
public sealed record RunFinish : CheckpointWrite
{
    /// <summary>How the run ends (or goes back to the queue).</summary>
    public required RunFinishKind Kind { get; init; }

    /// <summary>The output (JSON), for <see cref="RunFinishKind.Completed"/>.</summary>
    public string? OutputJson { get; init; }

    /// <summary>The error (<see cref="ErrorInfo"/> as JSON), for a failure or a retry.</summary>
    public string? ErrorJson { get; init; }

    /// <summary>For <see cref="RunFinishKind.Retry"/>: how long to wait, measured on the store's clock.</summary>
    public TimeSpan RetryDelay { get; init; }

    /// <summary>For <see cref="RunFinishKind.Suspend"/>: when the run is ready again.</summary>
    public DateTimeOffset? WakeAt { get; init; }

    /// <summary>For <see cref="RunFinishKind.Suspend"/> without <see cref="WakeAt"/>: how long until the run is ready again, on the store's clock.</summary>
    public TimeSpan? WakeAfter { get; init; }

    /// <summary>For <see cref="RunFinishKind.Suspend"/>: what the run waits for, as shown in <c>runs.wait_reason</c> (a timer, an event).</summary>
    public string? WaitReason { get; init; }

    /// <summary>
    /// Set by the store when this outcome (completed, retry, release or suspend) was written as a cancellation instead: a
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
    /// <summary>Step rows to upsert.</summary>
    public List<StepWrite> Steps { get; } = [];

    /// <summary>Progress to save.</summary>
    public List<ProgressWrite> Progress { get; } = [];

    /// <summary>Run outcomes to write.</summary>
    public List<RunFinish> Finishes { get; } = [];

    /// <summary>The worker whose writes these are, for the runs' history.</summary>
    public string? WorkerId { get; set; }

    /// <summary>How many writes the batch holds.</summary>
    public int Count => Steps.Count + Progress.Count + Finishes.Count;

    /// <summary>Every write of the batch: steps, then progress, then outcomes.</summary>
    public IEnumerable<CheckpointWrite> All() => Steps.Cast<CheckpointWrite>().Concat(Progress).Concat(Finishes);
}
