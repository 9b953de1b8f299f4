using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Trellis.Diagnostics;

/// <summary>
/// The engine's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named "Trellis". Spans and metrics are
/// listed in docs/telemetry.md; <c>AddTrellisInstrumentation()</c> (package Trellis.OpenTelemetry) registers both.
/// </summary>
public static class TrellisDiagnostics
{
    /// <summary>The name of the <see cref="ActivitySource"/> and the <see cref="Meter"/>: "Trellis".</summary>
    public const string Name = "Trellis";

    /// <summary>Trellis's spans: one per run attempt and per step, in the trace of the caller that started the run.</summary>
    public static readonly ActivitySource ActivitySource = new(Name, typeof(TrellisDiagnostics).Assembly.GetName().Version?.ToString());

    /// <summary>
    /// Trellis's metrics: runs started and finished, step durations, claim latency, lease losses, checkpoint batches, and
    /// the depth and lag of the queues this process's worker serves.
    /// </summary>
    public static readonly Meter Meter = new(Name, typeof(TrellisDiagnostics).Assembly.GetName().Version?.ToString());

    // Durations in seconds, as OpenTelemetry's conventions have them; the default buckets are made for milliseconds.
    private static readonly InstrumentAdvice<double> SecondsBuckets = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    };

    internal static readonly Counter<long> RunsStarted =
        Meter.CreateCounter<long>("trellis.runs.started", "{run}", "Runs created: by clients, and as children by workflows.");

    internal static readonly Counter<long> RunsCompleted = Meter.CreateCounter<long>("trellis.runs.completed", "{run}", "Runs that completed.");

    internal static readonly Counter<long> RunsFailed =
        Meter.CreateCounter<long>("trellis.runs.failed", "{run}", "Runs that failed for good, their attempts spent or their error permanent (timed out included).");

    internal static readonly Counter<long> RunsCancelled = Meter.CreateCounter<long>("trellis.runs.cancelled", "{run}", "Running runs that stopped cancelled.");

    internal static readonly Counter<long> RunAttempts =
        Meter.CreateCounter<long>("trellis.run.attempts", "{attempt}", "Run attempts that ended on this worker, by outcome (completed, failed, cancelled, retry, release, suspend).");

    internal static readonly Histogram<double> StepDuration = Meter.CreateHistogram(
        "trellis.step.duration", "s", "Duration of one step attempt, by outcome (completed, retry, failed).", advice: SecondsBuckets);

    internal static readonly Counter<long> StepsReplayed = Meter.CreateCounter<long>("trellis.steps.replayed", "{step}", "Steps answered from their checkpoint.");

    internal static readonly Histogram<double> ClaimDuration = Meter.CreateHistogram(
        "trellis.claim.duration", "s", "Round trip of one claim of ready runs, whether it found any or not.", advice: SecondsBuckets);

    internal static readonly Counter<long> LeaseLosses =
        Meter.CreateCounter<long>("trellis.lease.losses", "{run}", "Runs this worker stopped executing because another claim took them over.");

    internal static readonly Histogram<int> CheckpointBatchSize = Meter.CreateHistogram<int>(
        "trellis.checkpoint.batch_size", "{write}", "Writes per checkpoint round trip.");

    internal static readonly Histogram<double> CheckpointDuration = Meter.CreateHistogram(
        "trellis.checkpoint.duration", "s", "Duration of one checkpoint round trip.", advice: SecondsBuckets);

    internal static readonly ObservableGauge<long> QueueDepth = Meter.CreateObservableGauge(
        "trellis.queue.depth", QueueGauges.ObserveDepth, "{run}", "Ready runs waiting in a queue this process's worker serves.");

    internal static readonly ObservableGauge<double> QueueLag = Meter.CreateObservableGauge(
        "trellis.queue.lag", QueueGauges.ObserveLag, "s", "How long the oldest ready run of a queue this process's worker serves has waited (0: none waits).");
}
