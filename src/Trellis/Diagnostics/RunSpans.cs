using System.Diagnostics;
using Trellis.Execution;
using Trellis.Storage;

namespace Trellis.Diagnostics;

/// <summary>
/// The spans of a run: one per run attempt, the child of the span that started the run (its stored trace context), and
/// one per step under it. Nothing is allocated when no listener wants Trellis's spans.
/// </summary>
internal static class RunSpans
{
    /// <summary>The span of one run attempt, tagged with the run, its workflow, attempt and epoch; null when nobody listens.</summary>
    public static Activity? StartRun(ClaimedRun claim)
    {
        // The run's code runs under its own span, or none: never under whatever span the worker's loop (or, for a run
        // this process started, its caller) was in. Its parent is the stored context, wherever it executes.
        Activity.Current = null;
        var source = TrellisDiagnostics.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        // Without a stored context (started outside any trace), a trace of its own.
        _ = new RunTraceContext(claim.TraceParent, claim.TraceState).TryGetParent(out var parent);
        var activity = source.StartActivity($"run {claim.WorkflowName}", ActivityKind.Internal, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(TelemetryTags.RunId, claim.Id);
            activity.SetTag(TelemetryTags.Workflow, claim.WorkflowName);
            activity.SetTag(TelemetryTags.WorkflowVersion, claim.WorkflowVersion);
            activity.SetTag(TelemetryTags.RunAttempt, claim.Attempt);
            activity.SetTag(TelemetryTags.RunEpoch, claim.Epoch);
        }

        return activity;
    }

    /// <summary>The span of one attempt of a step (or of one item of a per-item step); null when nobody listens.</summary>
    public static Activity? StartStep(RunExecution run, string name, int sequence, int? itemIndex, int attempt, bool replayed = false)
    {
        var source = TrellisDiagnostics.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        var activity = source.StartActivity($"step {name}");
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(TelemetryTags.RunId, run.RunId);
            activity.SetTag(TelemetryTags.Workflow, run.Claim.WorkflowName);
            activity.SetTag(TelemetryTags.Step, name);
            activity.SetTag(TelemetryTags.StepSequence, sequence);
            activity.SetTag(TelemetryTags.StepItem, itemIndex);
            activity.SetTag(TelemetryTags.StepAttempt, attempt);
            activity.SetTag(TelemetryTags.StepReplayed, replayed);
        }

        return activity;
    }

    /// <summary>
    /// A step answered from its checkpoint: an instant span tagged replayed, so that a trace of a resumed run shows every
    /// step it went through, and which of them ran again.
    /// </summary>
    public static void RecordReplayedStep(RunExecution run, StepInfo step)
    {
        StartStep(run, step.Name, step.Sequence, step.ItemIndex, step.Attempts, replayed: true)?.Dispose();
        RunMetrics.StepReplayed(run.Claim.WorkflowName);
    }
}
