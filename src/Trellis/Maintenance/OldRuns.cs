using Trellis.Storage;

namespace Trellis.Maintenance;

/// <summary>
/// One pass of retention over the store: the batched statement (<see cref="IRunRetention.DeleteOldRunsAsync"/>) again and
/// again, each going on where the last stopped, until every old root has been seen. Retention rounds and purges share it.
/// </summary>
internal static class OldRuns
{
    /// <summary>Deletes every family <paramref name="rules"/> make old, reporting the running total; returns the runs deleted.</summary>
    public static async Task<long> DeleteAsync(
        IRunRetention store, RetentionRules rules, int batchSize, TimeSpan clockShift, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        long deleted = 0;
        RetentionPosition? after = null;
        do
        {
            var batch = await store.DeleteOldRunsAsync(rules, batchSize, after, clockShift, cancellationToken).ConfigureAwait(false);
            if (batch.Deleted > 0)
            {
                deleted += batch.Deleted;
                progress?.Report(deleted);
            }

            after = batch.Next;
        }
        while (after is not null);

        return deleted;
    }
}
