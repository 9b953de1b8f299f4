namespace Trellis.Diagnostics;

/// <summary>The names of the tags on Trellis's spans and metrics (docs/telemetry.md).</summary>
internal static class TelemetryTags
{
    public const string RunId = "trellis.run_id";
    public const string Workflow = "trellis.workflow";
    public const string WorkflowVersion = "trellis.workflow.version";
    public const string RunAttempt = "trellis.run.attempt";
    public const string RunEpoch = "trellis.run.epoch";
    public const string Step = "trellis.step";
    public const string StepSequence = "trellis.step.sequence";
    public const string StepItem = "trellis.step.item";
    public const string StepAttempt = "trellis.step.attempt";
    public const string StepReplayed = "trellis.step.replayed";
    public const string Outcome = "trellis.outcome";
    public const string Queue = "trellis.queue";
}
