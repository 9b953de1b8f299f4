using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Maintenance;

/// <summary>
/// Puts back in the queue the runs whose worker was lost: a lease that ran out, a claim window whose transaction
/// ended without a close. Every worker does it, each round taking up to <see cref="BatchSize"/> runs (the statement
/// skips rows another worker is recovering), so recovery does not wait on any one process.
/// </summary>
internal sealed class LeaseRecovery(IRunQueue queue, TimeSpan interval, Action onRecovered, ILogger logger) : MaintenanceService
{
    /// <summary>Most runs put back in one round.</summary>
    public const int BatchSize = 100;

    public override string Name => "lease recovery";

    public override TimeSpan Interval => interval;

    public override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var recovered = await queue.RecoverExpiredLeasesAsync(BatchSize, cancellationToken).ConfigureAwait(false);
        if (recovered > 0)
        {
            logger.LeasesRecovered(recovered);
            onRecovered(); // they may be for this worker's queues; the store's notification may come later, or not at all
        }
    }
}
