namespace Trellis.Execution;

/// <summary>
/// The store's clock as the engine sets and compares durable timers by it: the database's time, shifted by how far the
/// engine's <see cref="TimeProvider"/> is from the real clock. With the system clock (every deployment) the shift is
/// zero; a test that moves a fake clock a week ahead moves the timers' clock a week ahead with it, so a week-long sleep
/// ends in test time, stored and woken exactly as in production.
/// </summary>
internal static class StoreClock
{
    public static TimeSpan Shift(TimeProvider time)
    {
        if (ReferenceEquals(time, TimeProvider.System))
        {
            return TimeSpan.Zero;
        }

        // In whole microseconds, the database's resolution: a time stored and read back compares equal.
        var ticks = (time.GetUtcNow() - TimeProvider.System.GetUtcNow()).Ticks;
        return TimeSpan.FromTicks(ticks - (ticks % TimeSpan.TicksPerMicrosecond));
    }
}
