using Trellis.Client;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis;

/// <summary>
/// Starts runs, reads them, awaits their results and cancels them. An engine gives one (<see cref="TrellisEngine.Client"/>),
/// which hands runs it starts to the engine's worker when it has a free slot; a process that only starts and watches
/// runs (a web API, a command line tool) builds one on its own with <see cref="TrellisBuilder.BuildClient"/>.
/// </summary>
public sealed partial class TrellisClient : IAsyncDisposable
{
    private readonly IWorkflowStore _store;
    private readonly WorkflowRegistry _registry;
    private readonly TrellisOptions _options;
    private readonly TrellisSerializer _serializer;
    private readonly ResultWaiter _waiter;
    private readonly RunStarter _starter;
    private readonly ILocalRunner? _localWorker;
    private readonly IAsyncDisposable? _owned;

    internal TrellisClient(
        IWorkflowStore store,
        WorkflowRegistry registry,
        TrellisOptions options,
        TrellisSerializer serializer,
        ResultWaiter waiter,
        RunStarter starter,
        ILocalRunner? localWorker,
        IAsyncDisposable? owned = null)
    {
        _store = store;
        _registry = registry;
        _options = options;
        _serializer = serializer;
        _waiter = waiter;
        _starter = starter;
        _localWorker = localWorker;
        _owned = owned;
    }

    /// <summary>How inputs, step results and outputs are turned into JSON and back.</summary>
    public TrellisSerializer Serializer => _serializer;

    /// <summary>
    /// Releases what a client built with <see cref="TrellisBuilder.BuildClient"/> holds: its store's connections and its
    /// listener. A client an engine gave out belongs to the engine, and this does nothing to it.
    /// </summary>
    public ValueTask DisposeAsync() => _owned?.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary>
    /// Starts a run of <typeparamref name="TWorkflow"/>. <paramref name="input"/> must be the workflow's
    /// input type, checked when the call runs; <c>Workflow&lt;TWorkflow&gt;().StartAsync(input)</c> checks it when the
    /// code compiles. With <see cref="StartOptions.RunId"/> set, starting the same id again creates nothing (see
    /// <see cref="StartOptions.IfExists"/>).
    /// </summary>
    public async Task<RunHandle<TWorkflow>> StartAsync<TWorkflow>(object? input, StartOptions? options = null, CancellationToken cancellationToken = default)
        where TWorkflow : IWorkflow
    {
        var definition = _registry.Get(typeof(TWorkflow));
        StartChecks.CheckInputType(definition, input);
        var json = _serializer.Serialize(input, definition.InputType);
        // The input was checked by its CLR type, so its JSON needs no second check.
        var (runId, created) = await CreateAsync(definition.Name, json, options, definition, cancellationToken).ConfigureAwait(false);
        return new RunHandle<TWorkflow>(this, runId, created);
    }

    /// <summary>
    /// Starts runs of <typeparamref name="TWorkflow"/> with its input and output types checked by the compiler:
    /// <c>await client.Workflow&lt;OrderWorkflow&gt;().StartAsync(order)</c>, then <c>await run.GetResultAsync()</c>
    /// gives the workflow's output type.
    /// </summary>
    public WorkflowClient<TWorkflow> Workflow<TWorkflow>()
        where TWorkflow : IWorkflow => new(this);

    /// <summary>
    /// Starts many runs of <typeparamref name="TWorkflow"/> at once: one round trip and one transaction for
    /// all of them, and one wake-up for the workers. Every input must be the workflow's input type; the
    /// options apply to every run (a <see cref="StartOptions.RunId"/> cannot be given). Returns the new run ids in input order.
    /// </summary>
    public async Task<IReadOnlyList<string>> StartManyAsync<TWorkflow>(IEnumerable<object?> inputs, StartOptions? options = null, CancellationToken cancellationToken = default)
        where TWorkflow : IWorkflow
    {
        ArgumentNullException.ThrowIfNull(inputs);
        options ??= new StartOptions();
        if (options.RunId is not null)
        {
            throw new ArgumentException("StartManyAsync generates run ids; StartOptions.RunId must not be set.", nameof(options));
        }

        StartChecks.CheckOptions(options);
        var definition = _registry.Get(typeof(TWorkflow));
        var json = new List<string>();
        foreach (var input in inputs)
        {
            StartChecks.CheckInputType(definition, input);
            var serialized = _serializer.Serialize(input, definition.InputType);
            StartChecks.CheckInputSize(definition.Name, serialized, _options.MaxInputBytes);
            json.Add(serialized);
        }

        if (json.Count == 0)
        {
            return [];
        }

        var ids = new string[json.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = Guid.CreateVersion7().ToString();
        }

        // The caller's span, stored with the runs: whichever worker executes them continues its trace.
        var trace = RunTraceContext.Current;
        var batch = new NewRunBatch(
            definition.Name,
            definition.Version,
            options.Queue ?? _options.DefaultQueue,
            options.Priority,
            ids,
            json,
            options.CorrelationId,
            options.Tags ?? RunInfo.EmptyTags,
            options.MaxAttempts ?? _options.RunRetry.MaxAttempts,
            options.ScheduledAt,
            options.ScheduledAt is null ? options.Delay : null,
            options.MaxWorkerLosses ?? definition.MaxWorkerLosses ?? _options.MaxWorkerLosses,
            options.Timeout,
            trace.TraceParent,
            trace.TraceState);
        var created = await _store.CreateRunBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        RunMetrics.RunsStarted(definition.Name, created);
        return ids;
    }

    /// <summary>
    /// Starts a run of the workflow registered under <paramref name="workflowName"/>, here or by any worker
    /// of the store. The input is serialized and, when the workflow is registered here, checked against its input type.
    /// </summary>
    public Task<RunHandle> StartAsync(string workflowName, object? input, StartOptions? options = null, CancellationToken cancellationToken = default) =>
        StartJsonAsync(workflowName, _serializer.Serialize(input, input?.GetType() ?? typeof(object)), options, cancellationToken);

    /// <summary>Starts a run with its input given as JSON text (for tools: the CLI, the HTTP API).</summary>
    public async Task<RunHandle> StartJsonAsync(string workflowName, string inputJson, StartOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workflowName);
        ArgumentNullException.ThrowIfNull(inputJson);
        StartChecks.CheckJsonSyntax(inputJson);
        var (runId, created) = await CreateAsync(workflowName, inputJson, options, null, cancellationToken).ConfigureAwait(false);
        return new RunHandle(this, runId, created);
    }

    /// <summary>The run as stored now, or null when no run has this id.</summary>
    public Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        return _store.GetRunAsync(runId, cancellationToken);
    }

    /// <summary>Runs matching the filters, newest first, one page at a time.</summary>
    public Task<RunPage> ListRunsAsync(RunQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new RunQuery();
        if (query.Limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Limit, "RunQuery.Limit must be between 1 and 1000.");
        }

        return _store.ListRunsAsync(query, cancellationToken);
    }

    /// <summary>A run's steps in order: by position, then item index.</summary>
    public Task<IReadOnlyList<StepInfo>> GetStepsAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        return _store.GetStepsAsync(runId, cancellationToken);
    }

    /// <summary>
    /// A run's steps without the items of its per-item steps: the plain steps in full, and each per-item step with its
    /// items counted (stored, completed, failed, in flight) and its span, from the first item's start to the last one's
    /// end (read its items page by page with <see cref="GetStepItemsAsync"/>). One round trip; the counts read the run's
    /// item rows, one indexed range.
    /// </summary>
    public Task<StepOverview> GetStepOverviewAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        return _store.GetStepOverviewAsync(runId, cancellationToken);
    }

    /// <summary>
    /// One page of the items of the per-item step at position <paramref name="sequence"/>: those after item index
    /// <paramref name="afterItemIndex"/> (-1 for the first page), in item order, at most <paramref name="limit"/> (1–10,000).
    /// </summary>
    public Task<IReadOnlyList<StepInfo>> GetStepItemsAsync(string runId, int sequence, int afterItemIndex = -1, int limit = 1000, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentOutOfRangeException.ThrowIfLessThan(afterItemIndex, -1);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        return _store.GetStepItemsAsync(runId, sequence, afterItemIndex, limit, cancellationToken);
    }

    /// <summary>
    /// Cancels a run. A pending or waiting run (a sleep, an event, its children) is cancelled at once; a running one stops
    /// at its next step boundary, then its status becomes cancelled. Its unfinished child runs are cancelled with it,
    /// and theirs, except those started with <see cref="ParentCancelPolicy.Abandon"/>. A finished run is left as it is.
    /// Returns the run after the request.
    /// </summary>
    public async Task<RunInfo> CancelAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        return await _store.RequestCancelAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);
    }

    /// <summary>The run's history, oldest event first (see <see cref="RunHistoryEvents"/>).</summary>
    public Task<IReadOnlyList<RunHistoryEntry>> GetHistoryAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        return _store.GetHistoryAsync(runId, cancellationToken);
    }

    /// <summary>
    /// The runs <paramref name="runId"/> started as its children (<see cref="WorkflowContext.StartChildAsync{TWorkflow}"/>),
    /// in the order it started them; empty for a run that started none, or that does not exist.
    /// </summary>
    public Task<IReadOnlyList<RunInfo>> GetChildrenAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        return _store.GetChildrenAsync(runId, cancellationToken);
    }

    /// <summary>Waits until the run has finished and returns how it ended. Woken by notifications, not a tight poll.</summary>
    public Task<RunOutcome> WaitForOutcomeAsync(string runId, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        return _waiter.WaitAsync(runId, timeout, cancellationToken);
    }

    /// <summary>A handle to an existing run, without reading it; <see cref="RunHandle.Created"/> is false.</summary>
    public RunHandle GetHandle(string runId)
    {
        Names.CheckRunId(runId, nameof(runId));
        return new(this, runId);
    }

    /// <summary>A handle to an existing run of <typeparamref name="TWorkflow"/>, whose result is typed; nothing is read.</summary>
    public RunHandle<TWorkflow> GetHandle<TWorkflow>(string runId)
        where TWorkflow : IWorkflow
    {
        Names.CheckRunId(runId, nameof(runId));
        return new(this, runId);
    }

    /// <summary>Validates and creates the run; returns its id, and whether this call created it.</summary>
    private async Task<(string RunId, bool Created)> CreateAsync(string workflowName, string inputJson, StartOptions? options, WorkflowDefinition? definition, CancellationToken cancellationToken)
    {
        options ??= new StartOptions();
        StartChecks.CheckOptions(options);
        StartChecks.CheckInputSize(workflowName, inputJson, _options.MaxInputBytes);

        var version = options.WorkflowVersion;
        var inputChecked = definition is not null && (version is null || version == definition.Version);
        DefinitionRecord? remote = null;
        if (!inputChecked)
        {
            if (_registry.TryGet(workflowName, version, out var local))
            {
                definition = local;
                definition.ValidateInput(inputJson, _serializer);
            }
            else
            {
                definition = null;
                remote = await ResolveRemoteDefinitionAsync(workflowName, version, cancellationToken).ConfigureAwait(false);
            }
        }

        var queue = options.Queue ?? _options.DefaultQueue;
        var workflowVersion = definition?.Version ?? remote!.Version;
        var maxWorkerLosses = options.MaxWorkerLosses ?? definition?.MaxWorkerLosses ?? remote?.MaxWorkerLosses ?? _options.MaxWorkerLosses;
        var runId = options.RunId ?? Guid.CreateVersion7().ToString();
        var tags = options.Tags ?? RunInfo.EmptyTags;
        var maxAttempts = options.MaxAttempts ?? _options.RunRetry.MaxAttempts;
        var startsNow = options.ScheduledAt is null && options.Delay is null;

        // A worker in this process with a free slot takes the run as it is created: no claim round trip.
        var localClaim = startsNow ? _localWorker?.TryReserveForLocalStart(queue, workflowName, workflowVersion) : null;
        // The caller's span, stored with the run: whichever worker executes it continues its trace.
        var trace = RunTraceContext.Current;
        var run = new NewRun(
            runId, workflowName, workflowVersion, queue, options.Priority, inputJson, options.CorrelationId, tags, maxAttempts,
            options.ScheduledAt, options.ScheduledAt is null ? options.Delay : null, localClaim?.Claim, maxWorkerLosses, Timeout: options.Timeout,
            TraceParent: trace.TraceParent, TraceState: trace.TraceState);

        CreatedRun created;
        try
        {
            created = await _starter.StartAsync(run, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (localClaim is not null)
            {
                _localWorker!.CancelReservation();
            }

            throw;
        }

        if (localClaim is not null)
        {
            if (created.Claimed)
            {
                _localWorker!.StartReserved(
                    new ClaimedRun(runId, workflowName, workflowVersion, inputJson, created.Epoch, 1, maxAttempts, false, options.CorrelationId, tags, StartedBefore: false, TimeLeft: options.Timeout,
                        TraceParent: trace.TraceParent, TraceState: trace.TraceState),
                    localClaim);
            }
            else
            {
                _localWorker!.CancelReservation();
            }
        }

        if (!created.Created)
        {
            var existing = created.WorkflowName ?? (await _store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false))?.WorkflowName ?? workflowName;
            if (existing != workflowName)
            {
                throw new RunConflictException(runId, existing, workflowName);
            }

            if (options.IfExists == ExistingRun.Fail || (options.IfExists == ExistingRun.ReturnIfSameInput && !created.SameInput))
            {
                throw new RunConflictException(runId, existing, options.IfExists);
            }
        }
        else
        {
            RunMetrics.RunsStarted(workflowName, 1);
        }

        return (runId, created.Created);
    }

    /// <summary>The definition a worker elsewhere registered: the given version, or the highest.</summary>
    private async Task<DefinitionRecord> ResolveRemoteDefinitionAsync(string workflowName, int? version, CancellationToken cancellationToken)
    {
        var known = await _store.GetDefinitionsAsync(workflowName, cancellationToken).ConfigureAwait(false);
        var match = version is { } v ? known.FirstOrDefault(d => d.Version == v) : (known.Count > 0 ? known[0] : null);
        if (match is null)
        {
            var names = _registry.Names().Concat(known.Select(d => $"{d.Name} v{d.Version}")).Distinct();
            throw new UnknownWorkflowException(workflowName, version, names);
        }

        return match;
    }
}
