using Trellis.Diagnostics;

// In OpenTelemetry's namespace, as instrumentation libraries put theirs: found where the provider is built.
namespace OpenTelemetry.Metrics;

/// <summary>Registers Trellis's metrics with an OpenTelemetry meter provider.</summary>
public static class TrellisMeterProviderBuilderExtensions
{
    /// <summary>
    /// Records the instruments of Trellis's <see cref="System.Diagnostics.Metrics.Meter"/> ("Trellis"): runs started and
    /// finished, step durations, claim latency, lease losses, checkpoint batches, and the depth and lag of the queues
    /// that this process's worker serves.
    /// </summary>
    public static MeterProviderBuilder AddTrellisInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(TrellisDiagnostics.Name);
    }
}
