namespace Trellis;

/// <summary>
/// Starts runs of one workflow type (<see cref="TrellisClient.Workflow{TWorkflow}"/>). Its <c>StartAsync</c> is an
/// extension (<see cref="WorkflowClientExtensions"/>) so that the compiler finds the workflow's input and output
/// types from <typeparamref name="TWorkflow"/> itself: an input of another type does not compile.
/// </summary>
public sealed class WorkflowClient<TWorkflow> : IWorkflowClient<TWorkflow>
    where TWorkflow : IWorkflow
{
    internal WorkflowClient(TrellisClient client) => Client = client;

    /// <summary>The client the runs are started through.</summary>
    public TrellisClient Client { get; }

    async Task<RunHandle> IWorkflowClient<TWorkflow>.StartAsync(object? input, StartOptions? options, CancellationToken cancellationToken) =>
        await Client.StartAsync<TWorkflow>(input, options, cancellationToken).ConfigureAwait(false);
}

/// <summary>A starter of one workflow type; covariant, so that it converts to the workflow's base <c>Workflow&lt;TInput, TOutput&gt;</c>.</summary>
public interface IWorkflowClient<out TWorkflow>
    where TWorkflow : IWorkflow
{
    /// <summary>Starts a run of the workflow type with an input already of its input type.</summary>
    Task<RunHandle> StartAsync(object? input, StartOptions? options, CancellationToken cancellationToken);
}

/// <summary>Typed starts for <see cref="IWorkflowClient{TWorkflow}"/>.</summary>
public static class WorkflowClientExtensions
{
    /// <summary>
    /// Starts a run with an input of the workflow's input type. The handle's <c>GetResultAsync()</c> returns the
    /// workflow's output type.
    /// </summary>
    public static async Task<RunHandle<Workflow<TInput, TOutput>>> StartAsync<TInput, TOutput>(
        this IWorkflowClient<Workflow<TInput, TOutput>> workflow, TInput input, StartOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        var run = await workflow.StartAsync(input, options, cancellationToken).ConfigureAwait(false);
        return new RunHandle<Workflow<TInput, TOutput>>(run.Client, run.RunId, run.Created);
    }
}
