using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Maintenance;

/// <summary>
/// Reads the depth and lag of the worker's queues every <see cref="Interval"/>, in one query, for the queue gauges
/// (<see cref="QueueGauges"/>): their callbacks report the latest values and never wait on the store. Nothing is read
/// while no listener reads the gauges.
/// </summary>
internal sealed class QueueMetricsRefresh(IRunQueue queue, IReadOnlyList<string> queues, TimeSpan interval) : MaintenanceService, IDisposable
{
    public override string Name => "queue metrics";

    public override TimeSpan Interval => interval;

    public override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        if (!QueueGauges.Observed)
        {
            QueueGauges.Withdraw(this);
            return;
        }

        var stats = await queue.GetQueueStatsAsync(queues, cancellationToken).ConfigureAwait(false);
        // Reported until two rounds have been missed: a worker that stopped or lost the store reports nothing stale.
        QueueGauges.Publish(this, stats, interval * 3);
    }

    /// <summary>The worker stops: its queues' values are no longer reported.</summary>
    public void Dispose() => QueueGauges.Withdraw(this);
}
