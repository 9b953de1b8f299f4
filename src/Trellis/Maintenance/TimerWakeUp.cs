using Microsoft.Extensions.Logging;
using Trellis.Concurrency;
using Trellis.Diagnostics;
using Trellis.Execution;
using Trellis.Storage;

namespace Trellis.Maintenance;

/// <summary>
/// Wakes the runs that sleep (<see cref="WorkflowContext.SleepAsync"/>) once their time has come, on every worker.
/// After each round it waits until the next waiting run is due, as the store reports it, so a run wakes on time, not at
/// the next poll; at most <see cref="Interval"/>, so that timers other processes set are seen. A run this process puts
/// to sleep pokes it (<see cref="Poke"/>): the next round comes at once and learns the new due time.
/// </summary>
internal sealed class TimerWakeUp(IRunTimers timers, TimeSpan longestWait, TimeProvider time, Action onWoken, ILogger logger) : MaintenanceService
{
    /// <summary>Most runs woken in one round.</summary>
    public const int BatchSize = 500;

    private readonly AsyncSignal _poked = new(time);
    private TimeSpan _untilNextDue = TimeSpan.Zero;

    public override string Name => "timer wake-up";

    /// <summary>The longest wait between two rounds.</summary>
    public override TimeSpan Interval => longestWait;

    /// <summary>A run in this process went to sleep: look again now.</summary>
    public void Poke() => _poked.Set();

    public override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        _untilNextDue = Interval; // on an error, try again after the usual interval
        var result = await timers.WakeDueRunsAsync(BatchSize, StoreClock.Shift(time), cancellationToken).ConfigureAwait(false);
        if (result.Woken > 0)
        {
            logger.RunsWoken(result.Woken);
            onWoken(); // they may be for this worker's queues; the store's notification may come later
        }

        _untilNextDue = result.NextDueIn is { } next && next < Interval ? next : Interval;
    }

    public override async Task WaitForNextRoundAsync(TimeProvider clock, CancellationToken cancellationToken) // waits on its own signal
    {
        if (_untilNextDue > TimeSpan.Zero)
        {
            await _poked.WaitAsync(_untilNextDue, cancellationToken).ConfigureAwait(false);
        }
    }
}
