using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Execution;
using Trellis.Storage;

namespace Trellis.Maintenance;

/// <summary>
/// Deletes the finished runs older than <see cref="TrellisOptions.Retention"/> allows, every
/// <see cref="RetentionOptions.Interval"/>, on the one worker that holds the leader lease: deleting is not urgent, and one
/// deleter at a time keeps the others' statements from skipping each other's rows. Added only when some age is set.
/// </summary>
internal sealed class RetentionCleaner(IRunRetention store, RetentionOptions options, TimeProvider time, ILogger logger) : MaintenanceService
{
    private readonly RetentionRules _rules = options.Rules;

    public override string Name => "retention";

    public override TimeSpan Interval => options.Interval;

    public override bool RunsOnLeader => true;

    public override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var deleted = await OldRuns.DeleteAsync(store, _rules, options.BatchSize, StoreClock.Shift(time), null, cancellationToken).ConfigureAwait(false);
        if (deleted > 0)
        {
            logger.OldRunsDeleted(deleted);
        }
    }
}
