using System.Diagnostics;
using System.Diagnostics.Metrics;
using Trellis.Storage;

namespace Trellis.Diagnostics;

/// <summary>The engine's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named "Trellis".</summary>
public static class TrellisDiagnostics
{
    /// <summary>The name of the <see cref="ActivitySource"/> and the <see cref="Meter"/>: "Trellis".</summary>
    public const string Name = "Trellis";

    /// <summary>Trellis's spans: one per run attempt and per step.</summary>
    public static readonly ActivitySource ActivitySource = new(Name, typeof(TrellisDiagnostics).Assembly.GetName().Version?.ToString());

    /// <summary>Trellis's metrics: runs started and finished, steps executed and replayed, checkpoint batch sizes and round trips.</summary>
    public static readonly Meter Meter = new(Name, typeof(TrellisDiagnostics).Assembly.GetName().Version?.ToString());

    internal static readonly Counter<long> RunsStarted = Meter.CreateCounter<long>("trellis.runs.started", description: "Runs created by clients.");
    internal static readonly Counter<long> RunsFinished = Meter.CreateCounter<long>("trellis.runs.finished", description: "Runs finished by workers, by outcome.");
    internal static readonly Counter<long> StepsExecuted = Meter.CreateCounter<long>("trellis.steps.executed", description: "Step attempts executed, by outcome.");
    internal static readonly Counter<long> StepsReplayed = Meter.CreateCounter<long>("trellis.steps.replayed", description: "Steps answered from their checkpoint.");
    internal static readonly Histogram<int> CheckpointBatchSize = Meter.CreateHistogram<int>("trellis.checkpoint.batch_size", description: "Writes per checkpoint round trip.");
    internal static readonly Histogram<double> CheckpointCommitMs = Meter.CreateHistogram<double>("trellis.checkpoint.commit_ms", "ms", "Duration of one checkpoint round trip.");

    /// <summary>The span of one run attempt, tagged with the run, its workflow, attempt and epoch.</summary>
    internal static Activity? StartRunActivity(ClaimedRun claim)
    {
        var activity = ActivitySource.StartActivity($"run {claim.WorkflowName}");
        if (activity is not null)
        {
            activity.SetTag("trellis.run_id", claim.Id);
            activity.SetTag("trellis.workflow", claim.WorkflowName);
            activity.SetTag("trellis.workflow.version", claim.WorkflowVersion);
            activity.SetTag("trellis.run.attempt", claim.Attempt);
            activity.SetTag("trellis.run.epoch", claim.Epoch);
        }

        return activity;
    }
}
