namespace Trellis;

/// <summary>The untyped face of a workflow; implement <see cref="Workflow{TInput, TOutput}"/> instead.</summary>
public interface IWorkflow
{
}

/// <summary>
/// A durable workflow: ordinary async C# whose steps are checkpointed in the store. When a run is
/// resumed (after a crash, on another worker), <see cref="RunAsync"/> is called again from the top
/// and every step that already completed returns its stored result without running its body. So the
/// code between steps must be deterministic: the same input and the same step results must lead to
/// the same steps in the same order. Do I/O, clocks and randomness inside steps.
/// </summary>
/// <remarks>
/// A workflow is registered under its class name and version 1 unless it carries a
/// <see cref="WorkflowAttribute"/>. A new instance is created for every execution.
/// </remarks>
public abstract class Workflow<TInput, TOutput> : IWorkflow
{
    /// <summary>The workflow's code: called from the top on every execution of a run; returns the run's output.</summary>
    public abstract Task<TOutput> RunAsync(WorkflowContext context, TInput input);
}

/// <summary>Overrides the name and version a workflow is registered under, and its worker-loss limit.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class WorkflowAttribute(string? name = null) : Attribute
{
    private int? _maxWorkerLosses;

    /// <summary>The name the workflow is registered and started by. Default: the class's name.</summary>
    public string? Name { get; } = name;

    /// <summary>The definition's version, 1 or more. Default 1.</summary>
    public int Version { get; init; } = 1;

    /// <summary>
    /// Worker losses a run of this workflow survives (see <see cref="TrellisOptions.MaxWorkerLosses"/>), for runs
    /// started without <see cref="StartOptions.MaxWorkerLosses"/>. Default: the engine's <see cref="TrellisOptions.MaxWorkerLosses"/>.
    /// </summary>
    public int MaxWorkerLosses
    {
        get => _maxWorkerLosses ?? TrellisOptions.DefaultMaxWorkerLosses;
        init => _maxWorkerLosses = value;
    }

    /// <summary>
    /// Whether a run's input is checked strictly when it is started by JSON (<c>StartJsonAsync</c>, a start by name):
    /// every required member present, no null where the input type's nullable annotations do not allow one, and no
    /// member the type does not have. Default true; false checks only that the JSON deserializes. A null input is
    /// refused either way unless the workflow declares its input nullable.
    /// </summary>
    public bool StrictInput { get; init; } = true;

    /// <summary>The limit the attribute sets, or null when it sets none.</summary>
    internal int? ConfiguredMaxWorkerLosses => _maxWorkerLosses;
}
