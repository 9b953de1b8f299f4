namespace Trellis.Concurrency;

/// <summary>
/// A wake-up flag for one waiting loop. Any number of <see cref="Set"/> calls before the loop wakes
/// coalesce into one wake-up, which is what debounces a burst of notifications into one claim.
/// </summary>
internal sealed class AsyncSignal(TimeProvider time)
{
    private TaskCompletionSource _signal = NewSignal();

    public void Set() => Volatile.Read(ref _signal).TrySetResult();

    /// <summary>
    /// Drops a wake-up that arrived before the loop started the work it would have asked for (e.g. a
    /// claim): the work covers it, and only a <see cref="Set"/> from now on wakes the next wait.
    /// </summary>
    public void Reset()
    {
        var signal = Volatile.Read(ref _signal);
        if (signal.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _signal, NewSignal(), signal);
        }
    }

    /// <summary>Waits for a <see cref="Set"/> or the timeout; true when signalled.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var signal = Volatile.Read(ref _signal);
        var signalled = true;
        if (!signal.Task.IsCompleted)
        {
            try
            {
                await signal.Task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                signalled = false;
            }
        }

        // Re-arm before the caller acts, so that a Set() arriving while it works wakes the next wait.
        if (signal.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _signal, NewSignal(), signal);
        }

        return signalled;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
