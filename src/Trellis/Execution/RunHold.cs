namespace Trellis.Execution;

/// <summary>
/// What a worker knows, from its own monotonic clock, of its hold on one run: when the store last confirmed it,
/// and for how long a confirmation is good. A confirmation counts from the moment its request was sent (the claim,
/// a claim window's close, a heartbeat), which is no later than the store's own moment, so a hold this worker
/// believes fresh has not run out in the store. Good for the lease duration: a lease is granted for that long, and
/// a claim window's transaction is ended by the server after that long idle.
/// </summary>
/// <remarks>
/// A process that was paused (SIGSTOP, a VM freeze, a long GC) finds the time of the pause on this clock when it
/// goes on; its heartbeats and timers may not have run yet. The worker starts no run and no step body on a stale
/// hold before the store has confirmed it again (<see cref="RunExecution.EnsureHeldAsync"/>).
/// </remarks>
internal sealed class RunHold(TimeProvider time, TimeSpan validFor, long confirmedAt)
{
    private long _confirmedAt = confirmedAt;

    /// <summary>The store confirmed the hold in answer to a request sent at <paramref name="sentAt"/> (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public void Confirm(long sentAt)
    {
        var current = Volatile.Read(ref _confirmedAt);
        while (sentAt > current)
        {
            var seen = Interlocked.CompareExchange(ref _confirmedAt, sentAt, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>True once a confirmation's validity has passed: the store may have ended the hold by now.</summary>
    public bool IsStale => time.GetElapsedTime(Volatile.Read(ref _confirmedAt)) >= validFor;
}
