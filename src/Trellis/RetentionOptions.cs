using Trellis.Storage;

namespace Trellis;

/// <summary>
/// How long finished runs (completed, failed or cancelled) are kept. By default they are kept forever: nothing is deleted
/// until an age is set. With one, the worker that holds the leader lease deletes, every <see cref="Interval"/>, the runs
/// that finished longer ago than their workflow's age (by <c>completed_at</c>, the time they finished), with everything
/// kept for them: steps, history, event waits, values, stream entries, the messages sent to them, and the events they
/// received that nothing live can still receive. A child run goes with its root (the run without a parent its family
/// started from), when every run of the family has finished longer ago than the root's workflow's age; a live run, or a
/// family with one, is never deleted.
/// </summary>
public sealed class RetentionOptions
{
    /// <summary>The most <see cref="BatchSize"/> can be.</summary>
    public const int MaxBatchSize = 100_000;

    /// <summary>The age of runs of workflows without an entry in <see cref="PerWorkflow"/>. Default null: kept forever.</summary>
    public TimeSpan? DefaultAge { get; set; }

    /// <summary>
    /// Ages by workflow name (of the root run), overriding <see cref="DefaultAge"/>; a null (empty in configuration) keeps
    /// that workflow's runs forever. Names compare exactly. Default: none.
    /// </summary>
    public IDictionary<string, TimeSpan?> PerWorkflow { get; } = new Dictionary<string, TimeSpan?>(StringComparer.Ordinal);

    /// <summary>
    /// Most root runs deleted, with their families, by one statement (one transaction); a round repeats it until none is
    /// left. Default 1,000.
    /// </summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>How often the leader looks for old runs. Default 1 min.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The ages as the store applies them.</summary>
    internal RetentionRules Rules => new(DefaultAge, new Dictionary<string, TimeSpan?>(PerWorkflow, StringComparer.Ordinal));

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (DefaultAge is { } age && age <= TimeSpan.Zero)
        {
            throw new ArgumentException($"TrellisOptions.Retention.DefaultAge must be positive, or unset to keep runs forever (was {age}).");
        }

        foreach (var (workflow, workflowAge) in PerWorkflow)
        {
            if (string.IsNullOrWhiteSpace(workflow))
            {
                throw new ArgumentException("TrellisOptions.Retention.PerWorkflow has an entry without a workflow name.");
            }

            if (workflowAge is { } value && value <= TimeSpan.Zero)
            {
                throw new ArgumentException(
                    $"TrellisOptions.Retention.PerWorkflow['{workflow}'] must be positive, or empty to keep its runs forever (was {value}).");
            }
        }

        if (BatchSize is < 1 or > MaxBatchSize)
        {
            throw new ArgumentException($"TrellisOptions.Retention.BatchSize must be between 1 and {MaxBatchSize} (was {BatchSize}).");
        }

        if (Interval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"TrellisOptions.Retention.Interval must be positive (was {Interval}).");
        }
    }
}
