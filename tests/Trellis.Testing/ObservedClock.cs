using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace Trellis.Testing;

/// <summary>
/// A clock the test moves (<see cref="FakeTimeProvider.Advance"/>) that also tells when code set a timer on it: a test
/// waits until the engine has begun a wait of a given length, then moves time past it, with no race between the two.
/// </summary>
public sealed class ObservedClock() : FakeTimeProvider(DateTimeOffset.UtcNow)
{
    private readonly ConcurrentQueue<TimeSpan> _timers = new();

    /// <summary>Waits until a timer due <paramref name="dueTime"/> from when it was set has been set.</summary>
    public Task TimerSetAsync(TimeSpan dueTime, TimeSpan? timeout = null) =>
        Eventually.HoldsAsync(() => _timers.Contains(dueTime), $"a timer of {dueTime} was set", timeout);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        _timers.Enqueue(dueTime);
        return timer;
    }
}
