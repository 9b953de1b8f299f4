using Trellis.Client;
using Trellis.Execution;

namespace Trellis;

/// <summary>What a workflow uses to start other workflows as its children and await their results.</summary>
public sealed partial class WorkflowContext
{
    /// <summary>
    /// Starts a run of <typeparamref name="TWorkflow"/> as a child of this run; await the handle for its result.
    /// The child's id is this run's id and the step position (<c>{runId}:{position}</c>), so a replay of this run finds
    /// the child it started and never starts it twice. The child runs on any worker, as a run of its own; cancelling
    /// this run cancels it too, unless <see cref="ChildOptions.WhenParentCancelled"/> says otherwise. While this run
    /// awaits a child that has not finished, it waits in the store (<c>waiting</c>) holding no worker slot. Takes a step
    /// position, as a step does; <c>Child&lt;TWorkflow&gt;().StartAsync(input)</c> types the input and the result.
    /// </summary>
    public Task<ChildHandle> StartChildAsync<TWorkflow>(object? input, ChildOptions? options = null)
        where TWorkflow : IWorkflow
    {
        var (definition, json, checkedOptions) = PrepareChildren<TWorkflow>([input], options);
        var sequence = _run.NextSequence();
        return OnlyAsync(StartChildrenAtAsync(sequence, definition, json, checkedOptions, many: false));

        static async Task<ChildHandle> OnlyAsync(Task<IReadOnlyList<ChildHandle>> start) => (await start.ConfigureAwait(false))[0];
    }

    /// <summary>
    /// Starts one child run of <typeparamref name="TWorkflow"/> per input, all in one round trip; their ids are
    /// <c>{runId}:{position}:{index}</c>. Await each handle in turn, or all at once with
    /// <c>GetResultsAsync()</c> (<see cref="ChildHandleExtensions"/>) (one wait in the store for all of them).
    /// Takes one step position for all of them.
    /// </summary>
    public Task<IReadOnlyList<ChildHandle>> StartChildrenAsync<TWorkflow>(IEnumerable<object?> inputs, ChildOptions? options = null)
        where TWorkflow : IWorkflow
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var (definition, json, checkedOptions) = PrepareChildren<TWorkflow>([.. inputs], options);
        var sequence = _run.NextSequence();
        return StartChildrenAtAsync(sequence, definition, json, checkedOptions, many: true);
    }

    /// <summary>
    /// Starts children of <typeparamref name="TWorkflow"/> with its input and output types checked by the compiler:
    /// <c>var page = await ctx.Child&lt;OcrPage&gt;().StartAsync(input)</c>, then <c>string text = await page</c>.
    /// </summary>
    public ChildStarter<TWorkflow> Child<TWorkflow>()
        where TWorkflow : IWorkflow => new(this);

    private (WorkflowDefinition Definition, List<string> InputsJson, ChildOptions Options) PrepareChildren<TWorkflow>(IReadOnlyList<object?> inputs, ChildOptions? options)
        where TWorkflow : IWorkflow
    {
        options ??= new ChildOptions();
        StartChecks.CheckOptions(options.ToStartOptions());
        var services = _run.Services;
        var definition = services.Registry.Get(typeof(TWorkflow));
        if (options.WorkflowVersion is { } version && version != definition.Version)
        {
            definition = services.Registry.TryGet(definition.Name, version, out var other)
                ? other
                : throw new UnknownWorkflowException(definition.Name, version, services.Registry.Names());
        }

        var json = new List<string>(inputs.Count);
        foreach (var input in inputs)
        {
            StartChecks.CheckInputType(definition, input);
            var serialized = services.Serializer.Serialize(input, definition.InputType);
            StartChecks.CheckInputSize(definition.Name, serialized, services.Options.MaxInputBytes);
            json.Add(serialized);
        }

        return (definition, json, options);
    }

    private async Task<IReadOnlyList<ChildHandle>> StartChildrenAtAsync(int sequence, WorkflowDefinition definition, List<string> inputsJson, ChildOptions options, bool many)
    {
        var name = ChildRuns.StepName(definition.Name, many);
        var stored = _run.GetStored(sequence);
        if (stored is not null && (stored.IsPerItem || stored.Name != name))
        {
            throw Mismatch(sequence, stored, name, perItem: false);
        }

        var ids = await ChildRuns.StartAsync(_run, sequence, stored?.Step, definition, inputsJson, options, many).ConfigureAwait(false);
        return [.. ids.Select(id => new ChildHandle(_run, id, definition.Name))];
    }
}
