using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Trellis.Concurrency;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// Group commit for checkpoints. Step results, progress and run outcomes from every run in flight on
/// this worker are written together: whatever has gathered while the previous round trip was in
/// flight goes as one batch (one round trip, one transaction). Under load, batches grow by themselves;
/// when idle, a write goes out at once, so no delay is ever added (see <see cref="GroupCommit{T}"/>).
/// </summary>
/// <remarks>
/// One batch at a time keeps writes to the same row in order. Writes to the same step row or the same
/// run's progress that meet in one batch are merged (the later wins; failed-attempt errors accumulate).
/// </remarks>
internal sealed class CheckpointWriter : IAsyncDisposable
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly string? _workerId;
    private readonly ICheckpointStore _store;
    private readonly Func<Exception, bool> _isTransient;
    private readonly StoreOutage? _outage;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _maxBatch;
    private readonly CancellationTokenSource _abandon = new();
    private readonly GroupCommit<PendingWrite>[] _lanes;

    public CheckpointWriter(
        ICheckpointStore store, Func<Exception, bool> isTransient, int maxBatch, int lanes, ILogger logger, TimeProvider time, string? workerId = null, StoreOutage? outage = null)
    {
        _outage = outage;
        _store = store;
        _workerId = workerId;
        _isTransient = isTransient;
        _maxBatch = maxBatch;
        _logger = logger;
        _time = time;
        // Independent lanes let one batch be built and sent while another is in flight. A run always
        // writes through the same lane, so each run's writes stay in order.
        _lanes = [.. Enumerable.Range(0, lanes).Select(_ => new GroupCommit<PendingWrite>(FlushAsync, maxBatch))];
    }

    /// <summary>Called after each commit with the run outcomes it applied.</summary>
    public Action<IReadOnlyList<RunFinish>>? RunsFinished { get; set; }

    /// <summary>Queues a write; the task completes when it is durable: true if applied, false if fenced off.</summary>
    public Task<bool> WriteAsync(CheckpointWrite write)
    {
        var pending = new PendingWrite(write);
        var lane = _lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(write.RunId) % (uint)_lanes.Length)];
        if (!lane.TryAdd(pending))
        {
            pending.Completion.TrySetException(new ObjectDisposedException(nameof(CheckpointWriter), "The checkpoint writer has stopped."));
        }

        return pending.Completion.Task;
    }

    /// <summary>Writes everything queued so far, then stops. After <paramref name="cancellationToken"/> fires, gives up retrying.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.Register(() => _abandon.Cancel());
        await Task.WhenAll(_lanes.Select(l => l.CloseAsync(CancellationToken.None))).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _abandon.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_lanes.Select(l => l.CloseAsync(CancellationToken.None))).ConfigureAwait(false);
        _abandon.Dispose();
    }

    private async Task FlushAsync(List<PendingWrite> drained)
    {
        try
        {
            var batch = Coalesce(drained, out var waiters);
            TrellisDiagnostics.CheckpointBatchSize.Record(batch.Count);
            await CommitAsync(batch, waiters).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Never leave a writer waiting forever.
            foreach (var pending in drained)
            {
                pending.Completion.TrySetException(ex);
            }
        }
    }

    private async Task CommitAsync(CheckpointBatch batch, Dictionary<CheckpointWrite, List<PendingWrite>> waiters)
    {
        batch.WorkerId = _workerId;
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                await _store.CommitAsync(batch, _abandon.Token).ConfigureAwait(false);
                TrellisDiagnostics.CheckpointDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
                Complete(batch, waiters);
                return;
            }
            catch (Exception ex) when (_isTransient(ex) && !_abandon.IsCancellationRequested)
            {
                // The commit may or may not have happened; writes are idempotent, so write it again.
                ResetApplied(batch);
                if (_outage?.Absorb(ex, "writing checkpoints") != true)
                {
                    _logger.CheckpointRetry(ex, batch.Count, delay);
                }

                try
                {
                    await Task.Delay(delay, _time, _abandon.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Fail(batch, waiters, ex);
                    return;
                }

                delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
            }
            catch (Exception ex)
            {
                ResetApplied(batch);
                var runs = batch.All().Select(w => w.RunId).Distinct().ToList();
                if (runs.Count > 1 && !_abandon.IsCancellationRequested)
                {
                    // One run's bad data must not sink the others: write run by run to isolate it.
                    foreach (var runId in runs)
                    {
                        await CommitAsync(Subset(batch, runId), waiters).ConfigureAwait(false);
                    }

                    return;
                }

                _logger.CheckpointFailed(ex, runs.FirstOrDefault() ?? "?");
                Fail(batch, waiters, ex);
                return;
            }
        }
    }

    private void Complete(CheckpointBatch batch, Dictionary<CheckpointWrite, List<PendingWrite>> waiters)
    {
        List<RunFinish>? finished = null;
        foreach (var finish in batch.Finishes)
        {
            if (finish.Applied)
            {
                (finished ??= []).Add(finish);
            }
        }

        // Slots and in-process waiters first, then the runs' own awaits: a caller that starts its next run
        // on a result must find the finished run's slot free, and the run's end would otherwise race it.
        if (finished is not null)
        {
            RunsFinished?.Invoke(finished);
        }

        foreach (var write in batch.All())
        {
            foreach (var pending in waiters[write])
            {
                pending.Completion.TrySetResult(write.Applied);
            }
        }
    }

    private static void Fail(CheckpointBatch batch, Dictionary<CheckpointWrite, List<PendingWrite>> waiters, Exception error)
    {
        foreach (var write in batch.All())
        {
            foreach (var pending in waiters[write])
            {
                pending.Completion.TrySetException(error);
            }
        }
    }

    private static void ResetApplied(CheckpointBatch batch)
    {
        foreach (var write in batch.All())
        {
            write.Applied = false;
        }
    }

    private static CheckpointBatch Subset(CheckpointBatch batch, string runId)
    {
        var subset = new CheckpointBatch();
        subset.Steps.AddRange(batch.Steps.Where(w => w.RunId == runId));
        subset.Progress.AddRange(batch.Progress.Where(w => w.RunId == runId));
        subset.Finishes.AddRange(batch.Finishes.Where(w => w.RunId == runId));
        return subset;
    }

    /// <summary>Builds the batch, merging writes to the same row so each row appears once.</summary>
    internal static CheckpointBatch Coalesce(List<PendingWrite> drained, out Dictionary<CheckpointWrite, List<PendingWrite>> waiters)
    {
        var batch = new CheckpointBatch();
        var coalescer = new Coalescer(drained.Count);
        foreach (var pending in drained)
        {
            switch (pending.Write)
            {
                case StepWrite step:
                    coalescer.Add(batch.Steps, step.Key, step, pending, Merge);
                    break;
                case ProgressWrite progress:
                    coalescer.Add(batch.Progress, progress.RunId, progress, pending, static (_, later) => later);
                    break;
                case RunFinish finish:
                    coalescer.Add(batch.Finishes, finish.RunId, finish, pending, static (_, later) => later);
                    break;
            }
        }

        waiters = coalescer.Waiters;
        return batch;
    }

    /// <summary>Keeps one write per row key, and who waits for it.</summary>
    private sealed class Coalescer(int capacity)
    {
        private readonly Dictionary<object, int> _positions = new(capacity);

        public Dictionary<CheckpointWrite, List<PendingWrite>> Waiters { get; } = new(capacity, ReferenceEqualityComparer.Instance);

        public void Add<TWrite>(List<TWrite> rows, object key, TWrite write, PendingWrite pending, Func<TWrite, TWrite, TWrite> merge)
            where TWrite : CheckpointWrite
        {
            key = (typeof(TWrite), key); // progress and outcome of one run are different rows
            if (!_positions.TryGetValue(key, out var at))
            {
                _positions[key] = rows.Count;
                rows.Add(write);
                Waiters[write] = [pending];
                return;
            }

            var earlier = rows[at];
            var merged = merge(earlier, write);
            rows[at] = merged;
            var waiting = Waiters[earlier];
            Waiters.Remove(earlier);
            waiting.Add(pending);
            Waiters[merged] = waiting;
        }
    }

    private static StepWrite Merge(StepWrite earlier, StepWrite later) =>
        later with
            {
                ErrorJson = later.ErrorJson ?? earlier.ErrorJson,
                NewErrorsJson = [.. earlier.NewErrorsJson, .. later.NewErrorsJson],
                StartedAt = earlier.StartedAt < later.StartedAt ? earlier.StartedAt : later.StartedAt,
            };

    internal sealed class PendingWrite(CheckpointWrite write)
    {
        public CheckpointWrite Write { get; } = write;
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
