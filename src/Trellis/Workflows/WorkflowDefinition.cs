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
    }

    public string Name { get; }
    public int Version { get; }
    public Type WorkflowType { get; }
    public Type InputType { get; }
    public Type OutputType { get; }

    /// <summary>The worker-loss limit the workflow sets (<see cref="WorkflowAttribute.MaxWorkerLosses"/>), or null.</summary>
    public int? MaxWorkerLosses { get; internal set; }

    public override string ToString() => $"{Name} v{Version}";

    /// <summary>
    /// Checks that <paramref name="inputJson"/> deserializes into the input type, so that bad input is
    /// refused when the run is started rather than when a worker picks it up.
    /// </summary>
    internal void ValidateInput(string inputJson, TrellisSerializer serializer)
    {
        try
        {
            _ = serializer.Deserialize(inputJson, InputType);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidRunInputException(
                $"The input does not deserialize into {InputType.Name}, the input type of workflow '{Name}' v{Version}: {ex.Message}", ex);
        }
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
