using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Trellis.Client;
using Trellis.Concurrency;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// Claims runs from the store's queue and executes them: up to <see cref="WorkerOptions.MaxConcurrentRuns"/>
/// at once, each held under a lease that <see cref="LeaseHeartbeat"/> renews. Runs started in this process may be
/// handed to it directly, in a slot reserved for them. Putting back other workers' lost runs is maintenance
/// (<see cref="Maintenance.LeaseRecovery"/>), which the engine runs beside the worker.
/// </summary>
public sealed class TrellisWorker : IAsyncDisposable, ILocalRunner
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly IWorkflowStore _store;
    private readonly WorkflowRegistry _registry;
    private readonly TrellisOptions _options;
    private readonly WorkerOptions _worker;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ExecutionServices _services;
    private readonly string[] _queues;
    private readonly AsyncSignal _wake;
    private readonly ConcurrentDictionary<string, RunExecution> _active = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _runTasks = new();
    private readonly SlotCounter _slots;
    private readonly HashSet<WorkflowKey> _workflows;
    private readonly CancellationTokenSource _stopClaiming = new();
    private readonly CancellationTokenSource _stopBackground = new();
    private Task? _claimLoop;
    private Task? _heartbeatLoop;
    private int _state; // 0 new, 1 started, 2 stopped

    // Whether ready runs may be waiting in the queue. Cleared as a claim is sent, set again by a notification of
    // work (or a poll request), by a claim that came back full or failed, and when no slot was free to claim
    // with; so after a short claim it stays clear unless work was announced meanwhile. A freed slot wakes the
    // claim loop only while it is set: once the queue was found empty, a run that ends does not mean another is
    // waiting (a run started in this process brings its own slot, and new work in the queue is announced), so a
    // worker fed by local starts does not query the queue after every run.
    private volatile bool _workMayBeWaiting = true;
    private readonly StoreOutage? _outage;

    internal TrellisWorker(
        IWorkflowStore store,
        Func<Exception, bool> isTransient,
        WorkflowRegistry registry,
        TrellisOptions options,
        TrellisSerializer serializer,
        ILoggerFactory loggerFactory,
        TimeProvider time,
        IServiceProvider? services,
        StoreOutage? outage = null)
    {
        _outage = outage;
        _store = store;
        _registry = registry;
        _options = options;
        _worker = options.Worker;
        _logger = loggerFactory.CreateLogger("Trellis.Worker");
        _time = time;
        _wake = new AsyncSignal(time);
        _queues = _worker.Queues.Count > 0 ? [.. _worker.Queues.Distinct()] : [options.DefaultQueue];
        _slots = new SlotCounter(_worker.MaxConcurrentRuns);
        _workflows = [.. registry.Definitions.Select(d => new WorkflowKey(d.Name, d.Version))];
        var writer = new CheckpointWriter(store, isTransient, _worker.MaxCheckpointBatch, _worker.CheckpointLanes, loggerFactory.CreateLogger("Trellis.Checkpoints"), time, _worker.WorkerId, outage);
        _services = new ExecutionServices(writer, new InFlightSteps(), serializer, options, time, loggerFactory.CreateLogger("Trellis.Workflow"), services, store, store, store, store, store, store, registry, isTransient)
        {
            Outage = outage,
        };
        writer.RunsFinished = OnRunsFinished;
    }

    /// <summary>The worker's id, as the store shows it in <c>runs.locked_by</c>.</summary>
    public string WorkerId => _worker.WorkerId;

    /// <summary>Runs this worker is executing now.</summary>
    public int InFlightCount => _active.Count;

    /// <summary>Ids of the runs this worker is executing now.</summary>
    public IReadOnlyCollection<string> InFlightRunIds => [.. _active.Keys];

    /// <summary>The steps this worker's runs are executing now (for <see cref="Maintenance.LongStepRecorder"/>).</summary>
    internal InFlightSteps InFlightSteps => _services.InFlight;

    /// <summary>Called with the run outcomes each checkpoint commit applied (for in-process result waiters).</summary>
    internal Action<IReadOnlyList<RunFinish>>? RunsFinished { get; set; }

    /// <summary>The queues this worker claims from.</summary>
    internal IReadOnlyList<string> Queues => _queues;

    /// <summary>Starts claiming and executing runs, and renewing their leases, in the background.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The worker has already been started.");
        }

        _logger.WorkerStarted(WorkerId, string.Join(",", _queues), _worker.MaxConcurrentRuns, _worker.LeaseDuration);
        _claimLoop = Task.Run(ClaimLoopAsync, CancellationToken.None);
        var heartbeat = new LeaseHeartbeat(_store, _worker, () => (IReadOnlyCollection<RunExecution>)_active.Values, _time, _logger, _outage);
        _heartbeatLoop = Task.Run(() => heartbeat.RunAsync(_stopBackground.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops claiming, lets in-flight runs finish for up to <see cref="WorkerOptions.ShutdownTimeout"/>,
    /// then releases the rest back to the queue (their completed steps stay).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        _logger.WorkerStopping(WorkerId, _active.Count);
        await _stopClaiming.CancelAsync().ConfigureAwait(false);
        await (_claimLoop ?? Task.CompletedTask).ConfigureAwait(false);

        var drained = Task.WhenAll(_runTasks.Keys);
        var finished = await WaitAsync(drained, _worker.ShutdownTimeout, cancellationToken).ConfigureAwait(false);
        if (!finished)
        {
            _logger.ReleasingOnShutdown(WorkerId, _active.Count);
            foreach (var run in _active.Values)
            {
                run.Abort(AbortReason.Shutdown);
            }

            await WaitAsync(Task.WhenAll(_runTasks.Keys), _worker.ShutdownTimeout, CancellationToken.None).ConfigureAwait(false);
        }

        using var writerDeadline = new CancellationTokenSource(_worker.ShutdownTimeout, _time);
        await _services.Writer.StopAsync(writerDeadline.Token).ConfigureAwait(false);
        await _stopBackground.CancelAsync().ConfigureAwait(false);
        await (_heartbeatLoop ?? Task.CompletedTask).ConfigureAwait(false);
        _logger.WorkerStopped(WorkerId);
    }

    /// <summary>Stops the worker (see <see cref="StopAsync"/>) and releases its resources.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _services.Writer.DisposeAsync().ConfigureAwait(false);
        _stopClaiming.Dispose();
        _stopBackground.Dispose();
    }

    /// <summary>New work may be waiting in <paramref name="queue"/>.</summary>
    internal void OnWorkAvailable(string queue)
    {
        if (Array.IndexOf(_queues, queue) >= 0)
        {
            Poll();
        }
    }

    /// <summary>Wakes the claim loop to look at the queue, as a notification of work does (e.g. after the notification connection came back).</summary>
    internal void Poll()
    {
        _workMayBeWaiting = true;
        _wake.Set();
    }

    /// <summary>A slot became free: worth a claim only if runs may be waiting in the queue.</summary>
    private void OnSlotFreed()
    {
        if (_workMayBeWaiting)
        {
            _wake.Set();
        }
    }

    /// <summary>True while this worker is executing the run.</summary>
    internal bool IsExecuting(string runId) => _active.ContainsKey(runId);

    bool ILocalRunner.IsExecuting(string runId) => IsExecuting(runId);

    /// <summary>
    /// Takes a slot for a run that a start in this process wants to hand over directly. Only while the
    /// worker is running, serves the queue and has the workflow version registered.
    /// </summary>
    LocalReservation? ILocalRunner.TryReserveForLocalStart(string queue, string workflowName, int version)
    {
        if (Volatile.Read(ref _state) != 1 || _stopClaiming.IsCancellationRequested
            || Array.IndexOf(_queues, queue) < 0 || !_workflows.Contains(new WorkflowKey(workflowName, version)))
        {
            return null;
        }

        // Taken before the start is sent: the lease it creates runs from later than this.
        return _slots.TryTakeForLocalStart() ? new LocalReservation(new LocalClaim(WorkerId, _worker.LeaseDuration), _time.GetTimestamp()) : null;
    }

    /// <summary>Runs a run the store created already claimed by this worker, in the slot reserved for it.</summary>
    void ILocalRunner.StartReserved(ClaimedRun claim, LocalReservation reservation) =>
        Start(claim, window: null, givenBack: null, NewHold(reservation.ReservedAt));

    /// <summary>Gives back a slot reserved for a run that was not created claimed after all.</summary>
    void ILocalRunner.CancelReservation()
    {
        _slots.Release();
        OnSlotFreed();
    }

    internal void OnCancelRequested(string runId)
    {
        if (_active.TryGetValue(runId, out var run))
        {
            run.RequestCancel();
        }
    }

    private async Task ClaimLoopAsync()
    {
        var token = _stopClaiming.Token;
        var workflows = _registry.Definitions.Select(d => new WorkflowKey(d.Name, d.Version)).ToArray();
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!token.IsCancellationRequested)
        {
            try
            {
                var requested = workflows.Length > 0 ? _slots.TryTakeForClaim(_worker.ClaimBatchSize) : 0;
                if (requested == 0)
                {
                    // No free slot: whether runs wait is unknown, so the next freed slot should look.
                    _workMayBeWaiting = true;
                }
                else
                {
                    _workMayBeWaiting = false;
                    _wake.Reset(); // a wake-up from before this claim (e.g. the listener's first look) is answered by it
                    IReadOnlyList<ClaimedRun> claimed;
                    ClaimWindowSession? window = null;
                    var sentAt = _time.GetTimestamp(); // the claimed runs' holds count from here
                    var claimSentAt = Stopwatch.GetTimestamp(); // the real round trip, whatever clock the engine is given
                    try
                    {
                        var request = new ClaimRequest(WorkerId, _queues, workflows, requested, _worker.LeaseDuration);
                        if (_worker.ClaimWindow > TimeSpan.Zero)
                        {
                            var opened = await _store.OpenClaimWindowAsync(request, token).ConfigureAwait(false);
                            claimed = opened?.Runs ?? [];
                            window = opened is null ? null : new ClaimWindowSession(
                                opened, sentAt, _worker.ClaimWindow, _worker.LeaseDuration, _time, OnRunsFinished, AbortLostRuns, _logger, _outage);
                        }
                        else
                        {
                            claimed = await _store.ClaimAsync(request, token).ConfigureAwait(false);
                        }
                    }
                    catch
                    {
                        _workMayBeWaiting = true;
                        _slots.EndClaim(requested, 0);
                        throw;
                    }

                    RunMetrics.ClaimEnded(claimSentAt);
                    _logger.Claimed(claimed.Count, requested);
                    if (claimed.Count == requested)
                    {
                        _workMayBeWaiting = true; // a full claim: more is probably waiting
                    }

                    // The slots are held before the runs start, so a run that ends at once gives its slot back correctly.
                    var overLimit = _slots.EndClaim(requested, claimed.Count);
                    for (var i = 0; i < claimed.Count; i++)
                    {
                        var hold = window?.HoldOf(claimed[i].Id) ?? NewHold(sentAt);
                        Start(claimed[i], window, i >= claimed.Count - overLimit ? AbortReason.OverLimit : null, hold);
                    }

                    if (overLimit > 0)
                    {
                        _workMayBeWaiting = true; // the runs given back wait for the next free slot
                    }

                    backoff = TimeSpan.FromMilliseconds(100);
                    if (claimed.Count == requested)
                    {
                        continue;
                    }
                }

                await _wake.WaitAsync(_worker.PollInterval, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                if (_outage?.Absorb(ex, "claiming runs") != true)
                {
                    _logger.ClaimFailed(ex, backoff);
                }

                try
                {
                    await Task.Delay(backoff, _time, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                backoff = backoff * 2 < MaxBackoff ? backoff * 2 : MaxBackoff;
            }
        }
    }

    private RunHold NewHold(long confirmedAt) => new(_time, _worker.LeaseDuration, confirmedAt);

    private void Start(ClaimedRun claim, ClaimWindowSession? window, AbortReason? givenBack, RunHold hold)
    {
        if (!_registry.TryGet(claim.WorkflowName, claim.WorkflowVersion, out var definition))
        {
            // The claim only hands out registered workflows; this guards against a registry change.
            throw new UnknownWorkflowException(claim.WorkflowName, claim.WorkflowVersion, _registry.Names());
        }

        var run = new RunExecution(claim, definition, _services, hold, window);
        if (givenBack is { } reason)
        {
            run.Abort(reason); // before it begins: the executor only gives it back
        }

        _active[claim.Id] = run;
        _logger.RunClaimed(claim.Id, claim.WorkflowName, claim.WorkflowVersion, claim.Epoch, claim.Attempt);
        var task = Task.Run(() => RunExecutor.ExecuteAsync(run, _store));
        _runTasks[task] = 0;
        task.ContinueWith(
            (t, state) =>
            {
                var (worker, execution, window) = ((TrellisWorker, RunExecution, ClaimWindowSession?))state!;
                window?.OnRunEnded(execution.RunId);
                // The slot before the entry: while the run is listed here, result waiters in this process wait
                // for its in-process report instead of reading the store, so they cannot start a next run
                // on its result and find its slot still taken.
                if (execution.TryReleaseSlot())
                {
                    worker._slots.Release();
                    worker.OnSlotFreed();
                }

                // Only this execution's entry: a released run may already be running here again.
                worker._active.TryRemove(new KeyValuePair<string, RunExecution>(execution.RunId, execution));
                worker._runTasks.TryRemove(t, out _);
                execution.Dispose();
            },
            (this, run, window),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// A commit made these runs' outcomes durable. Their slots are free from now on, before anyone waiting
    /// for the outcomes hears of it: a caller that starts its next run on the result finds the slot free
    /// and gets that run handed to this worker directly, instead of through the queue.
    /// </summary>
    private void OnRunsFinished(IReadOnlyList<RunFinish> finishes)
    {
        var released = false;
        foreach (var finish in finishes)
        {
            if (_active.TryGetValue(finish.RunId, out var run) && run.Epoch == finish.Epoch && run.TryReleaseSlot())
            {
                _slots.Release();
                released = true;
            }
        }

        if (released)
        {
            OnSlotFreed();
        }

        RunsFinished?.Invoke(finishes);
    }

    /// <summary>Runs this worker no longer holds (a claim window whose close failed): they stop at once.</summary>
    private void AbortLostRuns(IReadOnlyList<string> runIds)
    {
        foreach (var runId in runIds)
        {
            if (_active.TryGetValue(runId, out var run))
            {
                run.Abort(AbortReason.LeaseLost); // logged as the run ends (RunExecutor.HandleAbortAsync)
            }
        }
    }

    private static async Task<bool> WaitAsync(Task task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (Exception)
        {
            return true; // run tasks handle their own errors; a fault still means "done"
        }
    }
}
