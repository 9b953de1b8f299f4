using System.Runtime.CompilerServices;
using Trellis.Execution;

namespace Trellis;

/// <summary>
/// A child run this run started (<see cref="WorkflowContext.StartChildAsync{TWorkflow}"/>). Awaiting its result
/// waits, durably, until the child has finished: the parent leaves its worker meanwhile, and is replayed up to here
/// when the child is done.
/// </summary>
public class ChildHandle
{
    internal ChildHandle(RunExecution parent, string runId, string workflowName)
    {
        Parent = parent;
        RunId = runId;
        WorkflowName = workflowName;
    }

    /// <summary>The child run's id.</summary>
    public string RunId { get; }

    /// <summary>The child's workflow.</summary>
    public string WorkflowName { get; }

    internal RunExecution Parent { get; }

    /// <summary>
    /// The child's output once it has finished. Throws <see cref="ChildRunFailedException"/> when it failed or was
    /// cancelled.
    /// </summary>
    public async Task<T> GetResultAsync<T>()
    {
        var outcomes = await ChildRuns.WaitAsync(Parent, [RunId]).ConfigureAwait(false);
        return ChildRuns.Result<T>(Parent, outcomes[0]);
    }
}

/// <summary>A child run of a workflow whose output is <typeparamref name="TOutput"/>; <c>await</c> it for the output.</summary>
public sealed class ChildHandle<TOutput> : ChildHandle
{
    internal ChildHandle(ChildHandle handle) : base(handle.Parent, handle.RunId, handle.WorkflowName) { }

    /// <summary>The child's output once it has finished (see <see cref="ChildHandle.GetResultAsync{T}"/>).</summary>
    public Task<TOutput> GetResultAsync() => GetResultAsync<TOutput>();

    /// <summary>Lets <c>await child</c> give the child's output.</summary>
    public TaskAwaiter<TOutput> GetAwaiter() => GetResultAsync().GetAwaiter();
}

/// <summary>Starts children of one workflow type (<see cref="WorkflowContext.Child{TWorkflow}"/>); its typed starts are extensions.</summary>
public sealed class ChildStarter<TWorkflow> : IChildStarter<TWorkflow>
    where TWorkflow : IWorkflow
{
    private readonly WorkflowContext _context;

    internal ChildStarter(WorkflowContext context) => _context = context;

    Task<ChildHandle> IChildStarter<TWorkflow>.StartAsync(object? input, ChildOptions? options) => _context.StartChildAsync<TWorkflow>(input, options);

    Task<IReadOnlyList<ChildHandle>> IChildStarter<TWorkflow>.StartManyAsync(IEnumerable<object?> inputs, ChildOptions? options) =>
        _context.StartChildrenAsync<TWorkflow>(inputs, options);
}

/// <summary>A starter of children of one workflow type; covariant, so that it converts to the workflow's base <c>Workflow&lt;TInput, TOutput&gt;</c>.</summary>
public interface IChildStarter<out TWorkflow>
    where TWorkflow : IWorkflow
{
    /// <summary>Starts one child.</summary>
    Task<ChildHandle> StartAsync(object? input, ChildOptions? options);

    /// <summary>Starts one child per input.</summary>
    Task<IReadOnlyList<ChildHandle>> StartManyAsync(IEnumerable<object?> inputs, ChildOptions? options);
}

/// <summary>Typed starts of children, and awaiting many at once.</summary>
public static class ChildHandleExtensions
{
    /// <summary>Starts a child with an input of the workflow's input type; <c>await</c> the handle for its output.</summary>
    public static async Task<ChildHandle<TOutput>> StartAsync<TInput, TOutput>(
        this IChildStarter<Workflow<TInput, TOutput>> starter, TInput input, ChildOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(starter);
        return new ChildHandle<TOutput>(await starter.StartAsync(input, options).ConfigureAwait(false));
    }

    /// <summary>Starts one child per input, in one round trip (see <see cref="WorkflowContext.StartChildrenAsync{TWorkflow}"/>).</summary>
    public static async Task<IReadOnlyList<ChildHandle<TOutput>>> StartManyAsync<TInput, TOutput>(
        this IChildStarter<Workflow<TInput, TOutput>> starter, IEnumerable<TInput> inputs, ChildOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(starter);
        ArgumentNullException.ThrowIfNull(inputs);
        var handles = await starter.StartManyAsync(inputs.Cast<object?>(), options).ConfigureAwait(false);
        return [.. handles.Select(h => new ChildHandle<TOutput>(h))];
    }

    /// <summary>
    /// The outputs of all of <paramref name="children"/>, in order, once every one has finished: the parent waits for
    /// them in the store once, not once per child. Throws the <see cref="ChildRunFailedException"/> of the first (in
    /// order) that failed or was cancelled.
    /// </summary>
    public static Task<TOutput[]> GetResultsAsync<TOutput>(this IEnumerable<ChildHandle<TOutput>> children) =>
        GetResultsAsync<TOutput>((IEnumerable<ChildHandle>)children);

    /// <summary>The outputs of all of <paramref name="children"/> as <typeparamref name="T"/>, in order (see the typed overload).</summary>
    public static async Task<T[]> GetResultsAsync<T>(this IEnumerable<ChildHandle> children)
    {
        ArgumentNullException.ThrowIfNull(children);
        var handles = children.ToList();
        if (handles.Count == 0)
        {
            return [];
        }

        var parent = handles[0].Parent;
        var outcomes = await ChildRuns.WaitAsync(parent, [.. handles.Select(h => h.RunId)]).ConfigureAwait(false);
        return [.. outcomes.Select(o => ChildRuns.Result<T>(parent, o))];
    }
}
