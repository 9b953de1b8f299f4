using System.Threading.Channels;
using Trellis.Storage;

namespace Trellis.Client;

/// <summary>
/// Group commit for starts. Runs started at the same time from many callers are inserted together:
/// one loop takes every start queued while the previous insert was in flight and sends them as one
/// statement. An idle client sends a start at once, so a single start waits for nothing.
/// </summary>
internal sealed class RunStarter : IAsyncDisposable
{
    private const int MaxBatch = 500;

    private readonly Channel<PendingStart> _queue = Channel.CreateUnbounded<PendingStart>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IRunStore _store;
    private readonly Task _loop;

    public RunStarter(IRunStore store)
    {
        _store = store;
        _loop = Task.Run(RunAsync);
    }

    public Task<CreatedRun> StartAsync(NewRun run, CancellationToken cancellationToken)
    {
        var pending = new PendingStart(run, cancellationToken);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(TrellisClient), "The Trellis engine has been disposed.");
        }

        return pending.Result.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var batch = new List<PendingStart>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
            {
                if (!pending.Cancellation.IsCancellationRequested)
                {
                    batch.Add(pending);
                }
                else
                {
                    pending.Result.TrySetCanceled(pending.Cancellation);
                }
            }

            if (batch.Count > 0)
            {
                await InsertAsync(batch).ConfigureAwait(false);
            }
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
        var answered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pending in batch)
        {
            var result = byId[pending.Run.Id];
            pending.Result.TrySetResult(answered.Add(pending.Run.Id)
                ? result
                : result with { Created = false, Claimed = false });
        }
    }

    private sealed class PendingStart(NewRun run, CancellationToken cancellation)
    {
        public NewRun Run { get; } = run;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<CreatedRun> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
