namespace Trellis.Testing;

/// <summary>
/// The system's clock, which a test can move forward at once: to the process using it, as if it had been paused
/// (SIGSTOP) for that long and had just gone on. Timers still fire on the system's time.
/// </summary>
public sealed class PausableClock : TimeProvider
{
    private long _offsetTicks;

    /// <summary>Moves this clock forward by <paramref name="pause"/>.</summary>
    public void Pause(TimeSpan pause) => Interlocked.Add(ref _offsetTicks, pause.Ticks);

    private TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;

    public override long TimestampFrequency => System.TimestampFrequency;

    public override long GetTimestamp() => System.GetTimestamp() + (long)(Offset.TotalSeconds * System.TimestampFrequency);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        System.CreateTimer(callback, state, dueTime, period);
}
