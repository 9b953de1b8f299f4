using System.Collections.Concurrent;

namespace Trellis.Concurrency;

/// <summary>
/// Group commit: items from many callers go to the store in batches, one batch at a time. A caller
/// that finds no batch in flight becomes the leader and sends the batch itself, on its own thread,
/// with everything queued so far; items that arrive meanwhile go in the leader's next batch. So an
/// item sent alone goes out at once, with no hand-off to another thread, and under load batches grow
/// by themselves without any timer. One batch at a time keeps writes to the same row in order.
/// </summary>
internal sealed class GroupCommit<T>(Func<List<T>, Task> flush, int maxBatch)
{
    private readonly ConcurrentQueue<T> _queue = new();
    private int _leading;
    private volatile bool _closed;

    /// <summary>Queues an item and, if no batch is in flight, sends it now. False once closed.</summary>
    public bool TryAdd(T item)
    {
        if (_closed)
        {
            return false;
        }

        _queue.Enqueue(item);
        if (Interlocked.CompareExchange(ref _leading, 1, 0) == 0)
        {
            _ = LeadAsync();
        }

        return true;
    }

    /// <summary>Refuses new items and waits until every queued one has been sent.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        _closed = true;
        while (!_queue.IsEmpty || Volatile.Read(ref _leading) == 1)
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task LeadAsync()
    {
        var batch = new List<T>();
        while (true)
        {
            batch.Clear();
            while (batch.Count < maxBatch && _queue.TryDequeue(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count == 0)
            {
                Volatile.Write(ref _leading, 0);
                // An item queued after the last look but before the release would otherwise wait for the next caller.
                if (_queue.IsEmpty || Interlocked.CompareExchange(ref _leading, 1, 0) != 0)
                {
                    return;
                }

                continue;
            }

            await flush(batch).ConfigureAwait(false); // never throws: each item learns its own outcome
        }
    }
}
