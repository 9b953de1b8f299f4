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

    /// <summary>
    /// Called by the engine as it starts, before its worker takes any run (a local start included, which would
    /// otherwise be taken for the earlier process's): the runs an earlier process under <paramref name="workerId"/>
    /// held go back to the queue at once, instead of after their leases; and the log says what waits on other
    /// workers' leases.
    /// </summary>
    public static async Task RecoverOwnRunsAsync(IRunQueue queue, string workerId, ILogger logger, CancellationToken cancellationToken)
    {
        var found = await queue.RecoverWorkerRunsAsync(workerId, cancellationToken).ConfigureAwait(false);
        if (found.RecoveredOwnRuns > 0)
        {
            logger.OwnRunsRecovered(found.RecoveredOwnRuns, workerId);
        }

        if (found.HeldByOthers > 0)
        {
            logger.LeaseBacklog(found.HeldByOthers, found.ExpiredLeases, found.LatestLeaseEnd);
        }
    }
}
