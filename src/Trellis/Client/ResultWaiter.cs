using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Trellis.Concurrency;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Client;

/// <summary>
/// Lets callers await run outcomes without polling in a tight loop. A waiter is woken by, in order of
/// speed: the in-process worker that finished the run, a store notification naming the run, or one
/// shared re-check of all awaited runs every <see cref="TrellisOptions.ResultPollInterval"/> (which
/// covers missed notifications).
/// </summary>
internal sealed class ResultWaiter : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly IRunStore _store;
    private readonly TrellisSerializer _serializer;
    private readonly TimeSpan _pollInterval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AsyncSignal _pollNow;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _loopLock = new();
    private readonly RecentOutcomes _recent = new(4096);
    private Task? _pollLoop;

    public ResultWaiter(IRunStore store, TrellisSerializer serializer, TimeSpan pollInterval, TimeProvider time, ILogger logger)
    {
        _store = store;
        _serializer = serializer;
        _pollInterval = pollInterval;
        _time = time;
        _logger = logger;
        _pollNow = new AsyncSignal(time);
    }

    /// <summary>Tells whether a worker in this process is executing a run; such a run reports its own end.</summary>
    public Func<string, bool>? IsExecutingLocally { get; set; }

    /// <summary>Called before a caller starts waiting for a run that has not finished (to start listening, e.g.).</summary>
    public Action? BeforeWaiting { get; set; }

    public async Task<RunOutcome> WaitAsync(string runId, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_loopLock)
        {
            entry = _entries.GetOrAdd(runId, static _ => new Entry());
            entry.References++;
        }

        try
        {
            // Registered first, then checked: a finish in between is caught by one or the other. A run that
            // finished here, or that a worker here is executing, needs no read: its end is reported in-process.
            if (_recent.TryGet(runId) is { } recent)
            {
                return recent;
            }

            if (IsExecutingLocally?.Invoke(runId) != true)
            {
                var current = await _store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);
                if (current.Status.IsTerminal())
                {
                    return RunOutcome.From(current);
                }
            }

            BeforeWaiting?.Invoke();
            EnsurePolling();
            try
            {
                return await entry.Outcome.Task.WaitAsync(timeout ?? Timeout.InfiniteTimeSpan, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"Run '{runId}' did not finish within {timeout}.");
            }
        }
        finally
        {
            Release(runId, entry);
        }
    }

    /// <summary>The run is live again (retried or resumed): what this process knew of its end is stale.</summary>
    public void Forget(string runId) => _recent.Forget(runId);

    /// <summary>A worker in this process finished runs: resolve their waiters without a read.</summary>
    public void OnFinishedLocally(IReadOnlyList<RunFinish> finishes)
    {
        foreach (var finish in finishes)
        {
            var status = finish.CancelledInstead ? RunStatus.Cancelled : RunTransitions.Of(finish.Kind).Status;
            if (!status.IsTerminal())
            {
                continue;
            }

            var final = status;
            var error = finish.ErrorJson is null ? null : _serializer.Deserialize<ErrorInfo>(finish.ErrorJson);
            var outcome = new RunOutcome(finish.RunId, final, final == RunStatus.Completed ? finish.OutputJson : null, error);
            _recent.Add(outcome); // before resolving, so a waiter registering now finds one or the other
            if (_entries.TryGetValue(finish.RunId, out var entry))
            {
                entry.Outcome.TrySetResult(outcome);
            }
        }
    }

    /// <summary>A notification named finished runs: read those that are awaited here. Named none: re-check all.</summary>
    public void OnFinishedNotified(IReadOnlyList<string> runIds)
    {
        if (runIds.Count == 0)
        {
            PollNow();
            return;
        }

        // A run a worker here executes reports its own end, without a read.
        var awaited = runIds
            .Where(id => _entries.TryGetValue(id, out var e) && !e.Outcome.Task.IsCompleted && IsExecutingLocally?.Invoke(id) != true)
            .ToArray();
        if (awaited.Length > 0)
        {
            _ = ResolveAsync(awaited, CancellationToken.None);
        }
    }

    /// <summary>Notifications may have been missed: re-check now.</summary>
    public void PollNow() => _pollNow.Set();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_pollLoop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private void EnsurePolling()
    {
        lock (_loopLock)
        {
            if (_pollLoop is null || _pollLoop.IsCompleted)
            {
                _pollLoop = Task.Run(PollLoopAsync);
            }
        }
    }

    private async Task PollLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested && !_entries.IsEmpty)
        {
            try
            {
                await _pollNow.WaitAsync(_pollInterval, token).ConfigureAwait(false);
                // As for notifications: a run a worker here executes reports its own end (its slot freed first).
                var awaited = _entries
                    .Where(e => !e.Value.Outcome.Task.IsCompleted && IsExecutingLocally?.Invoke(e.Key) != true)
                    .Select(e => e.Key).ToArray();
                if (awaited.Length > 0)
                {
                    await ResolveAsync(awaited, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ResolveAsync(IReadOnlyCollection<string> runIds, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var run in await _store.GetFinishedRunsAsync(runIds, cancellationToken).ConfigureAwait(false))
            {
                if (_entries.TryGetValue(run.Id, out var entry))
                {
                    entry.Outcome.TrySetResult(RunOutcome.From(run));
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.ResultPollFailed(ex);
        }
    }

    private void Release(string runId, Entry entry)
    {
        lock (_loopLock)
        {
            if (--entry.References == 0)
            {
                _entries.TryRemove(runId, out _);
            }
        }
    }

    private sealed class Entry
    {
        /// <summary>Callers awaiting this run; guarded by the waiter's lock.</summary>
        public int References { get; set; }

        public TaskCompletionSource<RunOutcome> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
