using Trellis.Concurrency;
using Trellis.Storage;

namespace Trellis.Client;

/// <summary>
/// Group commit for starts. Runs started at the same time from many callers are inserted together,
/// as one statement per batch (see <see cref="GroupCommit{T}"/>); a start made alone goes out at once.
/// </summary>
internal sealed class RunStarter : IAsyncDisposable
{
    private const int MaxBatch = 500;

    private readonly IRunStore _store;
    private readonly GroupCommit<PendingStart> _batches;

    public RunStarter(IRunStore store)
    {
        _store = store;
        _batches = new GroupCommit<PendingStart>(FlushAsync, MaxBatch);
    }

    public Task<CreatedRun> StartAsync(NewRun run, CancellationToken cancellationToken)
    {
        var pending = new PendingStart(run, cancellationToken);
        if (!_batches.TryAdd(pending))
        {
            throw new ObjectDisposedException(nameof(TrellisClient), "The Trellis engine has been disposed.");
        }

        return pending.Result.Task;
    }

    public async ValueTask DisposeAsync() => await _batches.CloseAsync().ConfigureAwait(false);

    private async Task FlushAsync(List<PendingStart> queued)
    {
        var batch = new List<PendingStart>(queued.Count);
        foreach (var pending in queued)
        {
            if (pending.Cancellation.IsCancellationRequested)
            {
                pending.Result.TrySetCanceled(pending.Cancellation);
            }
            else
            {
                batch.Add(pending);
            }
        }

        if (batch.Count > 0)
        {
            await InsertAsync(batch).ConfigureAwait(false);
        }
    }

    private async Task InsertAsync(List<PendingStart> batch)
    {
        // Two starts of the same id in one batch: the first goes to the store, the others learn from it.
        var firsts = batch.DistinctBy(p => p.Run.Id, StringComparer.Ordinal).ToList();
        IReadOnlyList<CreatedRun> created;
        try
        {
            created = await _store.CreateRunsAsync([.. firsts.Select(p => p.Run)], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception) when (firsts.Count > 1)
        {
            // One run's bad value must not fail the others' starts: insert them one by one.
            foreach (var single in firsts)
            {
                await InsertAsync(batch.Where(p => p.Run.Id == single.Run.Id).ToList()).ConfigureAwait(false);
            }

            return;
        }
        catch (Exception ex)
        {
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(ex);
            }

            return;
        }

        var byId = created.ToDictionary(c => c.Id, StringComparer.Ordinal);
        var firstInput = firsts.ToDictionary(p => p.Run.Id, p => p.Run.InputJson, StringComparer.Ordinal);
        var answered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pending in batch)
        {
            var result = byId[pending.Run.Id];
            pending.Result.TrySetResult(answered.Add(pending.Run.Id)
                ? result
                : result with { Created = false, Claimed = false, SameInput = result.SameInput && pending.Run.InputJson == firstInput[pending.Run.Id] });
        }
    }

    private sealed class PendingStart(NewRun run, CancellationToken cancellation)
    {
        public NewRun Run { get; } = run;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<CreatedRun> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
