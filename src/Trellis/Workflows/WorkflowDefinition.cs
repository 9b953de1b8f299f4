using System.Reflection;
using System.Text.Json;

namespace Trellis;

/// <summary>A registered workflow: its name, version, types and how to run it.</summary>
public abstract class WorkflowDefinition
{
    private protected WorkflowDefinition(string name, int version, Type workflowType, Type inputType, Type outputType)
    {
        Name = name;
        Version = version;
        WorkflowType = workflowType;
        InputType = inputType;
        OutputType = outputType;
        InputAcceptsNull = AcceptsNull(workflowType, inputType);
    }

    /// <summary>The name runs are started by.</summary>
    public string Name { get; }

    /// <summary>The definition's version.</summary>
    public int Version { get; }

    /// <summary>The workflow's class.</summary>
    public Type WorkflowType { get; }

    /// <summary>The type of a run's input.</summary>
    public Type InputType { get; }

    /// <summary>The type of a run's output.</summary>
    public Type OutputType { get; }

    /// <summary>The worker-loss limit the workflow sets (<see cref="WorkflowAttribute.MaxWorkerLosses"/>), or null.</summary>
    public int? MaxWorkerLosses { get; internal set; }

    /// <summary>Whether a run's input is checked strictly when it is started (<see cref="WorkflowAttribute.StrictInput"/>).</summary>
    public bool StrictInput { get; internal set; } = true;

    /// <summary>
    /// Whether null is an input: for a <see cref="Nullable{T}"/> input type, or a reference type that the
    /// workflow's <c>RunAsync</c> declares nullable (<c>Order? input</c>).
    /// </summary>
    public bool InputAcceptsNull { get; }

    /// <summary>The name and version, as "name vN".</summary>
    public override string ToString() => $"{Name} v{Version}";

    /// <summary>
    /// Checks that <paramref name="inputJson"/> is an input of this workflow, so that bad input is refused when the
    /// run is started rather than when a worker picks it up: not null unless <see cref="InputAcceptsNull"/>, and, with
    /// <see cref="StrictInput"/>, every required member present, no null where the type does not allow one, and no
    /// member the type does not have (the error names the JSON path).
    /// </summary>
    internal void ValidateInput(string inputJson, TrellisSerializer serializer)
    {
        if (inputJson.AsSpan().Trim().SequenceEqual("null"))
        {
            CheckNull(null);
            return;
        }

        try
        {
            _ = JsonSerializer.Deserialize(inputJson, InputType, StrictInput ? serializer.StrictOptions : serializer.Options);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            // Some of System.Text.Json's messages leave out where in the input they arose.
            var where = ex is JsonException { Path: { } path } && !ex.Message.Contains(path, StringComparison.Ordinal) ? $" Path: {path}." : "";
            throw new InvalidRunInputException(
                $"The input does not fit {InputType.Name}, the input type of workflow '{Name}' v{Version}: {ex.Message}{where}", ex);
        }
    }

    /// <summary>Refuses a null input unless the workflow takes one.</summary>
    internal void CheckNull(object? input)
    {
        if (input is null && !InputAcceptsNull)
        {
            throw new InvalidRunInputException(
                $"Workflow '{Name}' v{Version} takes a {InputType.Name} as input, not null. "
                + $"Declare its input nullable ({InputType.Name}? input in RunAsync) to allow null.");
        }
    }

    private static bool AcceptsNull(Type workflowType, Type inputType)
    {
        if (inputType.IsValueType)
        {
            return Nullable.GetUnderlyingType(inputType) is not null;
        }

        // The annotation of the override the workflow declares: Workflow<Order?, …> erases it from the type argument.
        var runAsync = workflowType.GetMethod(nameof(Workflow<object, object>.RunAsync), [typeof(WorkflowContext), inputType]);
        return runAsync is not null && new NullabilityInfoContext().Create(runAsync.GetParameters()[1]).ReadState == NullabilityState.Nullable;
    }

    /// <summary>Creates the workflow, deserializes the input, runs it and serializes its output.</summary>
    internal abstract Task<string> ExecuteAsync(WorkflowContext context, string? inputJson, IServiceProvider? services, TrellisSerializer serializer);
}

internal sealed class WorkflowDefinition<TWorkflow, TInput, TOutput>(string name, int version, Func<IServiceProvider?, TWorkflow> factory)
    : WorkflowDefinition(name, version, typeof(TWorkflow), typeof(TInput), typeof(TOutput))
    where TWorkflow : Workflow<TInput, TOutput>
{
    internal override async Task<string> ExecuteAsync(WorkflowContext context, string? inputJson, IServiceProvider? services, TrellisSerializer serializer)
    {
        TInput input;
        try
        {
            input = serializer.Deserialize<TInput>(inputJson);
        }
        catch (JsonException ex)
        {
            throw new NonRetryableException($"The stored input of run '{context.RunId}' does not deserialize into {typeof(TInput).Name}: {ex.Message}", ex);
        }

        var workflow = factory(services);
        var output = await workflow.RunAsync(context, input).ConfigureAwait(false);
        return serializer.Serialize(output);
    }
}
