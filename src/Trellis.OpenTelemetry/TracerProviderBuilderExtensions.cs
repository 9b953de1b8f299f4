using Trellis.Diagnostics;

// In OpenTelemetry's namespace, as instrumentation libraries put theirs: found where the provider is built.
namespace OpenTelemetry.Trace;

/// <summary>Registers Trellis's spans with an OpenTelemetry tracer provider.</summary>
public static class TrellisTracerProviderBuilderExtensions
{
    /// <summary>
    /// Records the spans of Trellis's <see cref="System.Diagnostics.ActivitySource"/> ("Trellis"): one per run attempt
    /// (<c>run {workflow}</c>) and one per step (<c>step {name}</c>), in the trace of the caller that started the run.
    /// </summary>
    public static TracerProviderBuilder AddTrellisInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(TrellisDiagnostics.Name);
    }
}
