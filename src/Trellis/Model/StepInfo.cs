namespace Trellis;

/// <summary>A snapshot of one row of <c>steps</c>: one step, or one item of a per-item step.</summary>
public sealed record StepInfo
{
    /// <summary>The run the step belongs to.</summary>
    public required string RunId { get; init; }

    /// <summary>The step's position in the workflow: the n-th step call of the run, from 0.</summary>
    public required int Sequence { get; init; }

    /// <summary>For a per-item step (<c>ForEachAsync</c>), the item's index; otherwise null.</summary>
    public int? ItemIndex { get; init; }

    /// <summary>The step's name, compared on replay.</summary>
    public required string Name { get; init; }

    /// <summary>Running (in flight, or between attempts), completed or failed.</summary>
    public required StepStatus Status { get; init; }

    /// <summary>The step's result (JSON) once completed.</summary>
    public string? ResultJson { get; init; }

    /// <summary>The error of the latest failed attempt.</summary>
    public ErrorInfo? Error { get; init; }

    /// <summary>The error of every failed attempt, oldest first.</summary>
    public IReadOnlyList<ErrorInfo> AttemptErrors { get; init; } = [];

    /// <summary>Attempts made, over every execution of the run.</summary>
    public int Attempts { get; init; }

    /// <summary>The run epoch (claim) under which the row was last written.</summary>
    public long Epoch { get; init; }

    /// <summary>When the step's first attempt started (the worker's clock).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the step completed or failed for good.</summary>
    public DateTimeOffset? CompletedAt { get; init; }
}
