using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>The state of one claimed run while a worker executes it.</summary>
internal sealed class RunExecution : IDisposable
{
    private static readonly TimeSpan MaxConfirmRetryDelay = TimeSpan.FromSeconds(1);

    // One source for both ways a run's work stops (an abort, a cancel): the reason is kept apart (_abortReason,
    // _cancelRequested). A linked pair of sources cost every run one more allocation and registration.
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _writeOrder = new();
    private readonly Lock _confirmLock = new();
    private Task? _confirming;
    private Dictionary<int, StoredPosition> _stored = [];
    private int _lastStoredSequence = -1;
    private int _lastSequence = -1;
    private int _abortReason = -1;
    private int _slotReleased;
    private int _cancelRequested;
    private volatile ClaimWindowSession? _window;
    private List<(CheckpointWrite Write, TaskCompletionSource<bool> Written)>? _afterWindow;
    private readonly long _handedOverAt;
    private readonly TaskCompletionSource<RunFinish?> _suspended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private KnownChildOutcomes? _childOutcomes;
    private readonly ITimer? _deadline;
    private int _timedOut;

    public RunExecution(ClaimedRun claim, WorkflowDefinition definition, ExecutionServices services, RunHold hold, ClaimWindowSession? window = null)
    {
        Claim = claim;
        Definition = definition;
        Services = services;
        Hold = hold;
        _window = window;
        _handedOverAt = services.Time.GetTimestamp();
        // Kept apart from its source: a body abandoned by a cancel may still read it after the run has ended.
        StopToken = _stop.Token;
        if (claim.CancelRequested)
        {
            RequestCancel();
        }

        if (claim.TimeLeft is { } left)
        {
            if (left <= TimeSpan.Zero)
            {
                OnDeadline();
            }
            else
            {
                _deadline = services.Time.CreateTimer(static state => ((RunExecution)state!).OnDeadline(), this, left, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>
    /// The run's deadline (<see cref="StartOptions.Timeout"/>) has passed: it stops as a cancelled run does, and ends failed
    /// with a <see cref="RunTimedOutException"/>.
    /// </summary>
    public bool TimedOut => Volatile.Read(ref _timedOut) != 0;

    private void OnDeadline()
    {
        Volatile.Write(ref _timedOut, 1);
        RequestCancel();
    }

    public ClaimedRun Claim { get; }

    /// <summary>When the store last confirmed that this worker holds the run.</summary>
    public RunHold Hold { get; }
    public WorkflowDefinition Definition { get; }
    public ExecutionServices Services { get; }
    public string RunId => Claim.Id;
    public long Epoch => Claim.Epoch;

    /// <summary>
    /// Fires when the run's work must stop: the worker stops executing it (<see cref="Aborted"/>: lease lost, shutdown
    /// timeout reached), or a caller asked to cancel it (<see cref="CancelRequested"/>). The token step bodies get: a
    /// cooperative body stops at once.
    /// </summary>
    public CancellationToken StopToken { get; }

    public AbortReason? Aborted => _abortReason < 0 ? null : (AbortReason)_abortReason;

    /// <summary>A caller asked to cancel the run: its running steps' tokens are cancelled, and it starts no more.</summary>
    public bool CancelRequested => Volatile.Read(ref _cancelRequested) != 0;

    public RunLease Lease => new(Claim.Id, Claim.Epoch);

    /// <summary>False while the run is inside a claim window that has not closed: the store has no lease to renew yet.</summary>
    public bool HoldsLease => _window is not { HasClosed: false };

    /// <summary>Called from the listener and the heartbeat as often as they hear of the cancel; acts the first time.</summary>
    public void RequestCancel()
    {
        if (Interlocked.Exchange(ref _cancelRequested, 1) != 0)
        {
            return;
        }

        try
        {
            // The bodies' cancellation callbacks, and the code they resume, run on the thread pool, not on the
            // listener's or heartbeat's thread.
            _stop.CancelAsync().ContinueWith(
                static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        catch (ObjectDisposedException)
        {
            // The execution already ended.
        }
    }

    /// <summary>
    /// The store's clock now, as far as this worker can tell without asking: the time the store handed the run over, plus
    /// the time since on this worker's monotonic clock, counted from after the answer arrived, so never ahead of the
    /// store's clock by more than the two clocks' drift. Null when the store did not say (a local start).
    /// </summary>
    public DateTimeOffset? StoreTimeNow => Claim.StoreTime + Services.Time.GetElapsedTime(_handedOverAt);

    /// <summary>Completes when the workflow asked to leave the worker and wait (<see cref="Suspend"/>), with the outcome to write.</summary>
    public Task<RunFinish?> Suspended => _suspended.Task;

    /// <summary>
    /// The workflow waits without a worker from here on: the executor writes <paramref name="finish"/> (null: the store
    /// has the run waiting already) and stops running the workflow, whose code is not resumed in this execution (a later
    /// claim replays it up to here).
    /// </summary>
    public void Suspend(RunFinish? finish) => _suspended.TrySetResult(finish);

    /// <summary>True the first time only: the run's worker slot is given back exactly once.</summary>
    public bool TryReleaseSlot() => Interlocked.Exchange(ref _slotReleased, 1) == 0;

    /// <summary>Loads the checkpoints of earlier executions; called once, before the workflow starts.</summary>
    public void SetStoredSteps(ReplaySteps steps)
    {
        _stored = StoredPosition.Index(steps);
        _lastStoredSequence = _stored.Count == 0 ? -1 : _stored.Keys.Max();
    }

    /// <summary>True while the workflow has not yet reached the last position stored by an earlier execution.</summary>
    public bool IsReplaying => Volatile.Read(ref _lastSequence) < _lastStoredSequence;

    /// <summary>True once the run was given up on this worker (<see cref="Abort"/>), for whatever reason.</summary>
    public bool IsAborted => Volatile.Read(ref _abortReason) != -1;

    public void Abort(AbortReason reason)
    {
        if (Interlocked.CompareExchange(ref _abortReason, (int)reason, -1) == -1)
        {
            if (reason == AbortReason.LeaseLost)
            {
                RunMetrics.LeaseLost(Claim.WorkflowName);
            }

            try
            {
                _stop.Cancel();
            }
            catch (AggregateException)
            {
                // A step's cancellation callback threw; the run is being abandoned anyway.
            }
            catch (ObjectDisposedException)
            {
                // The execution already ended.
            }
        }
    }

    /// <summary>Takes the next step position. Called synchronously, before any await, so positions follow call order.</summary>
    public int NextSequence() => Interlocked.Increment(ref _lastSequence);

    public StoredPosition? GetStored(int sequence) => _stored.GetValueOrDefault(sequence);

    /// <summary>Throws if the run must not go on: aborted, or cancelled by a caller.</summary>
    public void ThrowIfStopped()
    {
        ThrowIfAborted();
        if (CancelRequested)
        {
            throw new RunCancelledException(RunId);
        }
    }

    /// <summary>Throws <see cref="OperationCanceledException"/> once the worker has stopped executing the run.</summary>
    public void ThrowIfAborted()
    {
        if (Aborted is not null)
        {
            throw new OperationCanceledException(StopToken);
        }
    }

    /// <summary>The ends of the run's children this execution has read (only runs that await children have any).</summary>
    public KnownChildOutcomes ChildOutcomes
    {
        get
        {
            var known = Volatile.Read(ref _childOutcomes);
            return known ?? Interlocked.CompareExchange(ref _childOutcomes, new KnownChildOutcomes(), null) ?? _childOutcomes!;
        }
    }

    /// <summary>
    /// Ends the run's claim window, if it is in one, and confirms the hold: a wait that the store suspends the run for
    /// needs the run held under a lease.
    /// </summary>
    public async Task HoldUnderLeaseAsync()
    {
        if (_window is { HasClosed: false } window)
        {
            try
            {
                await window.PromoteAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                Abort(AbortReason.LeaseLost);
                throw new LeaseLostException(RunId, Epoch);
            }
        }

        await EnsureHeldAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Called before new work starts (the run, each step attempt): throws if the run must not go on, and makes sure
    /// this worker still holds it. While the hold is fresh on the worker's clock this costs nothing; once it is
    /// stale (the process was paused, or the store could not be reached), the store must confirm it first. A hold the
    /// store no longer has aborts the run, which then writes nothing: no body starts on a claim that is long dead.
    /// </summary>
    public ValueTask EnsureHeldAsync()
    {
        ThrowIfStopped();
        return Hold.IsStale ? new ValueTask(ConfirmHoldAsync()) : ValueTask.CompletedTask;
    }

    private async Task ConfirmHoldAsync()
    {
        while (Hold.IsStale)
        {
            ThrowIfStopped();
            Task confirming;
            lock (_confirmLock)
            {
                // One confirmation at a time for all of the run's callers (the items of a ForEachAsync).
                if (_confirming is null || _confirming.IsCompleted)
                {
                    _confirming = ConfirmOnceAsync();
                }

                confirming = _confirming;
            }

            await confirming.ConfigureAwait(false);
        }

        ThrowIfStopped();
    }

    /// <summary>Asks the store whether this worker still holds the run; aborts the run when it does not.</summary>
    private async Task ConfirmOnceAsync()
    {
        if (_window is { HasClosed: false } window)
        {
            // A window is confirmed by closing it: the close commits, and the run is held under a lease from then
            // (the window confirms its runs' holds), or it fails because the server ended the window's transaction.
            try
            {
                await window.PromoteAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                Abort(AbortReason.LeaseLost);
            }

            return;
        }

        var worker = Services.Options.Worker;
        var delay = TimeSpan.FromMilliseconds(50);
        while (!StopToken.IsCancellationRequested)
        {
            var sentAt = Services.Time.GetTimestamp();
            try
            {
                var held = await Services.Queue.RenewLeasesAsync(worker.WorkerId, [Lease], worker.LeaseDuration, StopToken).ConfigureAwait(false);
                if (held.TryGetValue(RunId, out var cancelRequested))
                {
                    Hold.Confirm(sentAt);
                    if (cancelRequested)
                    {
                        RequestCancel();
                    }
                }
                else
                {
                    Abort(AbortReason.LeaseLost); // logged as the run ends (RunExecutor.HandleAbortAsync)
                }

                return;
            }
            catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The store cannot say: nothing starts until it can, or until the heartbeat gives the run up.
                Services.Logger.HoldConfirmFailed(ex, RunId, delay);
                try
                {
                    await Task.Delay(delay, Services.Time, StopToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = delay * 2 < MaxConfirmRetryDelay ? delay * 2 : MaxConfirmRetryDelay;
            }
        }
    }

    /// <summary>
    /// Queues one of this run's writes; the task completes when it is durable: true if applied, false if fenced off.
    /// Inside a claim window, the outcome goes into the window's close, and any other write first ends the window
    /// (a step or progress needs the run held under a lease): it waits, in the order given, until then.
    /// </summary>
    public Task<bool> WriteAsync(CheckpointWrite write)
    {
        if (Volatile.Read(ref _abortReason) == (int)AbortReason.LeaseLost)
        {
            // Another worker may hold the run now; nothing this execution still has in flight may reach the store.
            return Task.FromResult(false);
        }

        // Once null, _window stays null, and it is cleared only after the writes that waited for the window have
        // reached the writer: a run outside any window (every locally started run, every run after its window)
        // writes without taking the lock, which the items of one ForEachAsync would otherwise all contend for.
        var window = _window;
        if (window is null)
        {
            return Services.Writer.WriteAsync(write);
        }

        if (!window.HasClosed && write is RunFinish finish && window.TryFinish(finish) is { } written)
        {
            return written;
        }

        lock (_writeOrder)
        {
            if (_window is not null)
            {
                // Writes to the same row must reach the writer in the order they were made (a step's running row
                // before its completed one), so they wait in one list rather than each on its own continuation.
                var pending = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                var first = _afterWindow is null;
                (_afterWindow ??= []).Add((write, pending));
                if (first)
                {
                    // Added first: if the window has closed already, this continuation runs here and now.
                    _window.PromoteAsync().ContinueWith(
                        static (promotion, state) => ((RunExecution)state!).WriteAfterWindow(promotion),
                        this,
                        CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                }

                return pending.Task;
            }
        }

        return Services.Writer.WriteAsync(write);
    }

    private void WriteAfterWindow(Task promotion)
    {
        lock (_writeOrder)
        {
            var waiting = _afterWindow!;
            if (promotion.IsFaulted)
            {
                // The window did not commit (logged there): this worker does not hold the run.
                Abort(AbortReason.LeaseLost);
            }

            foreach (var (write, pending) in waiting)
            {
                if (promotion.IsFaulted)
                {
                    pending.TrySetResult(false);
                    continue;
                }

                Services.Writer.WriteAsync(write).ContinueWith(
                    static (done, state) =>
                    {
                        var target = (TaskCompletionSource<bool>)state!;
                        if (done.IsFaulted)
                        {
                            target.TrySetException(done.Exception!.InnerExceptions);
                        }
                        else
                        {
                            target.TrySetResult(done.Result);
                        }
                    },
                    pending,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }

            _window = null; // from now on, writes go straight to the writer, after these
        }
    }

    /// <summary>Awaits a write and abandons the run when it was fenced off.</summary>
    public async Task EnsureAppliedAsync(Task<bool> write)
    {
        if (!await write.ConfigureAwait(false))
        {
            Abort(AbortReason.LeaseLost);
            throw new LeaseLostException(RunId, Epoch);
        }
    }

    public void Dispose()
    {
        _deadline?.Dispose();
        _stop.Dispose();
    }
}
