using Trellis.Maintenance;
using Trellis.Storage;

namespace Trellis;

public sealed partial class TrellisClient
{
    /// <summary>
    /// Deletes now every finished run (completed, failed or cancelled) that finished longer ago than
    /// <paramref name="olderThan"/>, whatever <see cref="TrellisOptions.Retention"/> keeps: with its steps, history, event
    /// waits, values, stream entries, the messages sent to it and the events it received that nothing live can still
    /// receive. As retention does, a run goes with its whole family of child runs, by its root (the run without a parent),
    /// once every run of the family has finished that long ago; a live run, or a family with one, is never deleted. With
    /// <paramref name="workflow"/>, only families whose root is of that workflow. Deletes in batches of
    /// <see cref="RetentionOptions.BatchSize"/> root runs, one transaction each, skipping rows a worker holds, and reports
    /// the runs deleted so far to <paramref name="progress"/> after each batch. Returns how many runs it deleted, children
    /// included. Cancelling stops it between batches: what was deleted stays deleted.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="olderThan"/> is zero or negative: nothing is deleted.</exception>
    /// <exception cref="ArgumentException"><paramref name="workflow"/> is empty or blank.</exception>
    public Task<long> PurgeAsync(TimeSpan olderThan, string? workflow = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (olderThan <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(olderThan), olderThan, "PurgeAsync deletes runs finished longer ago than a positive age; got zero or less, so nothing was deleted.");
        }

        if (workflow is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(workflow);
        }

        var rules = workflow is null
            ? new RetentionRules(olderThan, new Dictionary<string, TimeSpan?>())
            : new RetentionRules(null, new Dictionary<string, TimeSpan?>(StringComparer.Ordinal) { [workflow] = olderThan });
        return OldRuns.DeleteAsync(_store, rules, _options.Retention.BatchSize, TimeSpan.Zero, progress, cancellationToken);
    }
}
