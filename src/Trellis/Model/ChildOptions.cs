namespace Trellis;

/// <summary>Optional settings for a child run (<see cref="WorkflowContext.StartChildAsync{TWorkflow}"/>).</summary>
public sealed class ChildOptions
{
    /// <summary>The queue the child waits in. Default: the engine's default queue.</summary>
    public string? Queue { get; init; }

    /// <summary>Higher runs first among ready runs of a queue. Default 0.</summary>
    public int Priority { get; init; }

    /// <summary>The child's correlation id. Default: the parent's.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>The child's tags. Default: none.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Attempts of the whole child run before it is failed. Default: the worker options' run retry policy.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>Worker losses the child survives (see <see cref="StartOptions.MaxWorkerLosses"/>).</summary>
    public int? MaxWorkerLosses { get; init; }

    /// <summary>The workflow version the child runs. Default: the version registered in this process.</summary>
    public int? WorkflowVersion { get; init; }

    /// <summary>The child's deadline (see <see cref="StartOptions.Timeout"/>). Default: none.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>What cancelling the parent does to the child. Default <see cref="ParentCancelPolicy.CancelChild"/>.</summary>
    public ParentCancelPolicy WhenParentCancelled { get; init; } = ParentCancelPolicy.CancelChild;

    internal StartOptions ToStartOptions() => new()
    {
        Queue = Queue,
        Priority = Priority,
        CorrelationId = CorrelationId,
        Tags = Tags,
        MaxAttempts = MaxAttempts,
        MaxWorkerLosses = MaxWorkerLosses,
        WorkflowVersion = WorkflowVersion,
        Timeout = Timeout,
    };
}

/// <summary>What cancelling a parent run does to a child it started.</summary>
public enum ParentCancelPolicy
{
    /// <summary>The child is cancelled with its parent (and its own children that follow it, however deep).</summary>
    CancelChild,

    /// <summary>The child runs on: it is cancelled only when asked for itself.</summary>
    Abandon,
}
