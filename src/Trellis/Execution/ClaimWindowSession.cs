using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// The worker's side of an open claim window (<see cref="IRunQueue.OpenClaimWindowAsync"/>): the runs execute
/// while the store still has them pending under this worker's row locks, and their outcomes are gathered here.
/// The window closes once, in one round trip, when the first of these happens: every run has its outcome; a
/// run needs to write anything else (a step, progress), which needs a lease; <see cref="WorkerOptions.ClaimWindow"/>
/// has passed. The close writes the outcomes gathered and hands the other runs over under a lease; from then on
/// they write through the checkpoint writer like any claimed run.
/// </summary>
/// <remarks>
/// A run that finishes quickly and writes nothing but its outcome thus costs the store two row versions (its
/// insert and its outcome) instead of three (insert, claim, outcome), which is most of a queue drain's cost.
/// </remarks>
internal sealed class ClaimWindowSession
{
    private readonly IClaimWindow _window;
    private readonly TimeSpan _leaseDuration;
    private readonly Action<IReadOnlyList<RunFinish>> _runsFinished;
    private readonly Action<IReadOnlyList<string>> _runsLost;
    private readonly ILogger _logger;
    private readonly Diagnostics.StoreOutage? _outage;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Member> _members;
    private readonly ITimer _deadline;
    private int _outstanding;
    private Task? _closing;
    private volatile bool _closed;

    /// <summary>
    /// A session for an open window. <c>claimSentAt</c> is when the claim that opened it was sent
    /// (<see cref="TimeProvider.GetTimestamp"/>): the server ends the window's transaction once it has been idle for the
    /// lease duration, so the runs' holds count from then.
    /// </summary>
    public ClaimWindowSession(
        IClaimWindow window,
        long claimSentAt,
        TimeSpan maxOpen,
        TimeSpan leaseDuration,
        TimeProvider time,
        Action<IReadOnlyList<RunFinish>> runsFinished,
        Action<IReadOnlyList<string>> runsLost,
        ILogger logger,
        Diagnostics.StoreOutage? outage = null)
    {
        _outage = outage;
        _window = window;
        _leaseDuration = leaseDuration;
        _time = time;
        _runsFinished = runsFinished;
        _runsLost = runsLost;
        _logger = logger;
        _members = new Dictionary<string, Member>(window.Runs.Count, StringComparer.Ordinal);
        foreach (var run in window.Runs)
        {
            _members[run.Id] = new Member(new RunHold(time, leaseDuration, claimSentAt));
        }

        _outstanding = _members.Count;
        _deadline = time.CreateTimer(static state => ((ClaimWindowSession)state!).BeginClose(), this, maxOpen, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The close has committed: the runs it did not finish are held under a lease now.</summary>
    public bool HasClosed => _closed;

    /// <summary>The hold of one of the window's runs: from the claim, then from the close that handed it over under a lease.</summary>
    public RunHold HoldOf(string runId) => _members[runId].Hold;

    /// <summary>
    /// Takes a run's outcome into the window. Returns the task that completes when the window has committed
    /// (true if written), or null when the outcome must go through the checkpoint writer instead: the window is
    /// closing or closed (the run was handed over under a lease), or the outcome resets a step.
    /// </summary>
    public Task<bool>? TryFinish(RunFinish finish)
    {
        lock (_lock)
        {
            if (_closing is not null || finish.ResetStepSequence is not null || !_members.TryGetValue(finish.RunId, out var member) || member.Reported)
            {
                return null;
            }

            member.Reported = true;
            Task<bool> outcome;
            if (finish.Kind == RunFinishKind.Release)
            {
                // Nothing to write: the close leaves the run pending, as it was.
                outcome = Task.FromResult(true);
            }
            else
            {
                member.Finish = finish;
                member.Written = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                outcome = member.Written.Task;
            }

            if (--_outstanding == 0)
            {
                BeginCloseLocked();
            }

            return outcome;
        }
    }

    /// <summary>Ends the window, if it is still open, and waits until its unfinished runs are held under a lease.</summary>
    public Task PromoteAsync()
    {
        lock (_lock)
        {
            BeginCloseLocked();
            return _closing!;
        }
    }

    /// <summary>A run's execution ended; one that ended without an outcome is left pending by the close.</summary>
    public void OnRunEnded(string runId)
    {
        lock (_lock)
        {
            if (_closing is null && _members.TryGetValue(runId, out var member) && !member.Reported)
            {
                member.Reported = true;
                if (--_outstanding == 0)
                {
                    BeginCloseLocked();
                }
            }
        }
    }

    private void BeginClose()
    {
        lock (_lock)
        {
            BeginCloseLocked();
        }
    }

    private void BeginCloseLocked()
    {
        if (_closing is not null)
        {
            return;
        }

        // Decided under the lock: an outcome that arrives after this goes through the writer, once the run is
        // held under its lease.
        var finishes = new List<RunFinish>();
        var promoted = new List<string>();
        foreach (var (runId, member) in _members)
        {
            if (member.Finish is { } finish)
            {
                finishes.Add(finish);
            }
            else if (!member.Reported)
            {
                promoted.Add(runId);
            }
        }

        _closing = Task.Run(() => CloseAsync(finishes, promoted));
        _closing.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private async Task CloseAsync(List<RunFinish> finishes, List<string> promoted)
    {
        await _deadline.DisposeAsync().ConfigureAwait(false);
        var closeSentAt = _time.GetTimestamp();
        try
        {
            await _window.CloseAsync(finishes, promoted, _leaseDuration).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (_outage?.Absorb(ex, "closing a claim window") != true)
            {
                _logger.ClaimWindowCloseFailed(ex, finishes.Count, promoted.Count);
            }

            foreach (var finish in finishes)
            {
                _members[finish.RunId].Written!.TrySetException(ex);
            }

            // Not held by this worker (or held under a lease it cannot know of): stop executing them now.
            _runsLost(promoted);
            throw;
        }
        finally
        {
            await _window.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var runId in promoted)
        {
            _members[runId].Hold.Confirm(closeSentAt); // their leases run from the close
        }

        _closed = true;
        List<RunFinish>? applied = null;
        foreach (var finish in finishes)
        {
            if (finish.Applied)
            {
                (applied ??= []).Add(finish);
            }
        }

        // Slots and in-process waiters first, as after a checkpoint commit; then the runs' own awaits.
        if (applied is not null)
        {
            _runsFinished(applied);
        }

        foreach (var finish in finishes)
        {
            _members[finish.RunId].Written!.TrySetResult(finish.Applied);
        }
    }

    private sealed class Member(RunHold hold)
    {
        public RunHold Hold { get; } = hold;

        /// <summary>The run gave its outcome (or ended without one); the window no longer waits for it.</summary>
        public bool Reported { get; set; }

        public RunFinish? Finish { get; set; }

        public TaskCompletionSource<bool>? Written { get; set; }
    }
}
