using System.Diagnostics;

namespace Trellis.Diagnostics;

/// <summary>
/// The W3C trace context (<c>traceparent</c>, <c>tracestate</c>) stored with a run as it starts, and read back by the
/// worker that executes it: a run's spans are children of the span that started it, in any process.
/// </summary>
internal readonly record struct RunTraceContext(string? TraceParent, string? TraceState)
{
    /// <summary>W3C's limit for <c>tracestate</c>; a longer one is not stored (the trace still is).</summary>
    private const int MaxTraceStateLength = 512;

    /// <summary>The context of the span running now (the caller's), or none when there is none or it is not in W3C format.</summary>
    public static RunTraceContext Current => Of(Activity.Current);

    /// <summary>The context of <paramref name="activity"/>, or none.</summary>
    public static RunTraceContext Of(Activity? activity)
    {
        if (activity is not { IdFormat: ActivityIdFormat.W3C })
        {
            return default;
        }

        var state = activity.TraceStateString;
        return new(activity.Id, state is { Length: > 0 and <= MaxTraceStateLength } ? state : null);
    }

    /// <summary>The stored context as a remote parent; false when none was stored or it does not parse.</summary>
    public bool TryGetParent(out ActivityContext parent) =>
        ActivityContext.TryParse(TraceParent, TraceState, isRemote: true, out parent);
}
