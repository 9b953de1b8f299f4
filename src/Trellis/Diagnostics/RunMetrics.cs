using System.Diagnostics;
using Trellis.Storage;

namespace Trellis.Diagnostics;

/// <summary>
/// Records Trellis's measurements. Each checks that its instrument is listened to before it builds tags, so that the hot
/// paths (a step, a claim) pay nothing without a listener.
/// </summary>
internal static class RunMetrics
{
    public static void RunsStarted(string workflow, long count)
    {
        if (count > 0 && TrellisDiagnostics.RunsStarted.Enabled)
        {
            TrellisDiagnostics.RunsStarted.Add(count, new KeyValuePair<string, object?>(TelemetryTags.Workflow, workflow));
        }
    }

    /// <summary>A run attempt's outcome was written: counted by outcome, and, when it finished the run, as completed, failed or cancelled.</summary>
    public static void AttemptEnded(string workflow, RunFinish finish)
    {
        var kind = finish.CancelledInstead ? RunFinishKind.Cancelled : finish.Kind;
        var workflowTag = new KeyValuePair<string, object?>(TelemetryTags.Workflow, workflow);
        if (TrellisDiagnostics.RunAttempts.Enabled)
        {
            TrellisDiagnostics.RunAttempts.Add(1, workflowTag, new KeyValuePair<string, object?>(TelemetryTags.Outcome, OutcomeText(kind)));
        }

        var finished = kind switch
        {
            RunFinishKind.Completed => TrellisDiagnostics.RunsCompleted,
            RunFinishKind.Failed => TrellisDiagnostics.RunsFailed,
            RunFinishKind.Cancelled => TrellisDiagnostics.RunsCancelled,
            _ => null,
        };
        if (finished is { Enabled: true })
        {
            finished.Add(1, workflowTag);
        }
    }

    /// <summary>One step attempt ended (<paramref name="outcome"/>: completed, retry or failed) after running since <paramref name="startedAt"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static void StepEnded(string workflow, string step, string outcome, long startedAt)
    {
        var duration = TrellisDiagnostics.StepDuration;
        if (duration.Enabled)
        {
            var tags = new TagList
            {
                { TelemetryTags.Workflow, workflow },
                { TelemetryTags.Step, step },
                { TelemetryTags.Outcome, outcome },
            };
            duration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, tags);
        }
    }

    public static void StepReplayed(string workflow)
    {
        if (TrellisDiagnostics.StepsReplayed.Enabled)
        {
            TrellisDiagnostics.StepsReplayed.Add(1, new KeyValuePair<string, object?>(TelemetryTags.Workflow, workflow));
        }
    }

    /// <summary>A claim's round trip, from a <see cref="Stopwatch"/> timestamp taken as it was sent.</summary>
    public static void ClaimEnded(long sentAt)
    {
        if (TrellisDiagnostics.ClaimDuration.Enabled)
        {
            TrellisDiagnostics.ClaimDuration.Record(Stopwatch.GetElapsedTime(sentAt).TotalSeconds);
        }
    }

    public static void LeaseLost(string workflow)
    {
        if (TrellisDiagnostics.LeaseLosses.Enabled)
        {
            TrellisDiagnostics.LeaseLosses.Add(1, new KeyValuePair<string, object?>(TelemetryTags.Workflow, workflow));
        }
    }

    /// <summary>The texts of the outcomes, as the <c>trellis.outcome</c> tag has them.</summary>
    private static string OutcomeText(RunFinishKind kind) => kind switch
    {
        RunFinishKind.Completed => "completed",
        RunFinishKind.Failed => "failed",
        RunFinishKind.Cancelled => "cancelled",
        RunFinishKind.Retry => "retry",
        RunFinishKind.Release => "release",
        RunFinishKind.Suspend => "suspend",
        _ => "other",
    };
}
