using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Trellis.Diagnostics;

namespace Trellis.Postgres.Tests.Infrastructure;

/// <summary>
/// Records the spans of Trellis's <see cref="ActivitySource"/> as they end. The source is shared by every test of the
/// process, and classes run in parallel: a test reads only the spans of its own runs (<see cref="OfRun"/>).
/// </summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TrellisDiagnostics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The ended spans of the run, in the order they ended.</summary>
    public IReadOnlyList<Activity> OfRun(string runId) =>
        [.. _stopped.Where(a => a.GetTagItem("trellis.run_id") as string == runId)];

    /// <summary>The ended run spans (one per attempt) of the run.</summary>
    public IReadOnlyList<Activity> RunSpans(string runId) => [.. OfRun(runId).Where(a => a.OperationName.StartsWith("run ", StringComparison.Ordinal))];

    /// <summary>The ended step spans of the run.</summary>
    public IReadOnlyList<Activity> StepSpans(string runId) => [.. OfRun(runId).Where(a => a.OperationName.StartsWith("step ", StringComparison.Ordinal))];

    public void Dispose() => _listener.Dispose();
}

/// <summary>One measurement of a Trellis instrument, with its tags.</summary>
public sealed record RecordedMeasurement(string Instrument, string? Unit, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public object? Tag(string name) => Tags.GetValueOrDefault(name);
}

/// <summary>
/// Records the measurements of Trellis's <see cref="Meter"/>. Shared by every test of the process, like the spans: a
/// test reads the measurements tagged with its own workflow or queue.
/// </summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly ConcurrentQueue<RecordedMeasurement> _measurements = new();
    private readonly MeterListener _listener = new();

    public MetricRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TrellisDiagnostics.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    /// <summary>Asks the observable instruments (the queue gauges) for their values now.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    /// <summary>The measurements of <paramref name="instrument"/> whose tag <paramref name="tag"/> is <paramref name="value"/>.</summary>
    public IReadOnlyList<RecordedMeasurement> Of(string instrument, string tag, string value) =>
        [.. _measurements.Where(m => m.Instrument == instrument && Equals(m.Tag(tag), value))];

    /// <summary>Every measurement of <paramref name="instrument"/>, whoever's.</summary>
    public IReadOnlyList<RecordedMeasurement> All(string instrument) => [.. _measurements.Where(m => m.Instrument == instrument)];

    /// <summary>The sum of the values of <see cref="Of"/>.</summary>
    public double Sum(string instrument, string tag, string value) => Of(instrument, tag, value).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(tags.Length);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        _measurements.Enqueue(new RecordedMeasurement(instrument.Name, instrument.Unit, value, copy));
    }
}
