namespace Trellis.Storage;

/// <summary>
/// Deletes finished runs once they are old: retention (<see cref="RetentionOptions"/>) and purges
/// (<see cref="TrellisClient.PurgeAsync"/>). A run goes with its whole family: a run without a parent (a root) and every
/// run it started, and theirs, are deleted together, once every one of them has finished longer ago than the root's
/// workflow's age; a child run is never deleted on its own, and a live run never.
/// </summary>
public interface IRunRetention
{
    /// <summary>
    /// Deletes, in one statement, the families of the roots that <paramref name="rules"/> make old among the next
    /// <paramref name="limit"/> finished roots after <paramref name="after"/>, oldest first (a family larger than
    /// <paramref name="limit"/> runs is deleted alone, whole): their runs, steps, history, event waits, values and stream
    /// entries, the messages sent to them, and the events they received that no other run received and no live run can
    /// still receive. Rows other workers hold locked are skipped, never waited for (a later round takes them). "Now" is the
    /// store's clock plus <paramref name="clockShift"/> (zero but in tests that move the engine's clock). Returns how many
    /// runs it deleted, children included, and where the next call goes on from: null once every old root has been seen.
    /// </summary>
    Task<RetentionBatch> DeleteOldRunsAsync(
        RetentionRules rules, int limit, RetentionPosition? after = null, TimeSpan clockShift = default, CancellationToken cancellationToken = default);
}

/// <summary>
/// How long finished runs are kept: a root run is old once every run of its family finished longer ago than the age of
/// the root's workflow, <see cref="PerWorkflow"/>'s entry for it if there is one, else <see cref="DefaultAge"/>. A null
/// age keeps the workflow's runs forever.
/// </summary>
/// <param name="DefaultAge">The age of workflows without an entry; null keeps them forever.</param>
/// <param name="PerWorkflow">Ages by workflow name; a null age keeps that workflow's runs forever.</param>
public sealed record RetentionRules(TimeSpan? DefaultAge, IReadOnlyDictionary<string, TimeSpan?> PerWorkflow)
{
    /// <summary>True when some runs can be old: some age is set.</summary>
    public bool DeletesAnything => DefaultAge is not null || PerWorkflow.Values.Any(age => age is not null);
}

/// <summary>A root run's place in the order retention reads them: by when it finished, then by id.</summary>
/// <param name="CompletedAt">When the root finished.</param>
/// <param name="RootId">The root's id.</param>
public sealed record RetentionPosition(DateTimeOffset CompletedAt, string RootId);

/// <summary>What one retention statement did.</summary>
/// <param name="Deleted">Runs deleted, children included.</param>
/// <param name="Next">Where the next statement goes on from (every root up to it was deleted or found not old); null when no old root was left to see.</param>
public sealed record RetentionBatch(int Deleted, RetentionPosition? Next);
