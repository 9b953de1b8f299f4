using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Trellis.Storage;

namespace Trellis.Diagnostics;

/// <summary>
/// What the queue gauges (<c>trellis.queue.depth</c>, <c>trellis.queue.lag</c>) report: the latest queue stats each
/// worker of this process read (<see cref="Maintenance.QueueMetricsRefresh"/>). A gauge's callback only reads them: it
/// never queries the store. Stats a worker has stopped refreshing (it stopped, or the store is unreachable) are left
/// out once they are older than the worker said they may be.
/// </summary>
internal static class QueueGauges
{
    private static readonly ConcurrentDictionary<object, Snapshot> Snapshots = new(ReferenceEqualityComparer.Instance);

    /// <summary>True when a listener reads either gauge: only then does a worker query the store for them.</summary>
    public static bool Observed => TrellisDiagnostics.QueueDepth.Enabled || TrellisDiagnostics.QueueLag.Enabled;

    /// <summary>Publishes <paramref name="owner"/>'s latest stats, to be reported for at most <paramref name="maxAge"/>.</summary>
    public static void Publish(object owner, IReadOnlyList<QueueStats> stats, TimeSpan maxAge) =>
        Snapshots[owner] = new Snapshot(stats, Stopwatch.GetTimestamp(), maxAge);

    /// <summary>Stops reporting <paramref name="owner"/>'s stats (its worker stopped).</summary>
    public static void Withdraw(object owner) => Snapshots.TryRemove(owner, out _);

    public static IEnumerable<Measurement<long>> ObserveDepth() =>
        Current().Select(s => new Measurement<long>(s.ReadyRuns, new KeyValuePair<string, object?>(TelemetryTags.Queue, s.Queue)));

    public static IEnumerable<Measurement<double>> ObserveLag() =>
        Current().Select(s => new Measurement<double>(s.OldestReadyAge.TotalSeconds, new KeyValuePair<string, object?>(TelemetryTags.Queue, s.Queue)));

    private static List<QueueStats> Current()
    {
        var current = new List<QueueStats>();
        foreach (var (owner, snapshot) in Snapshots)
        {
            if (Stopwatch.GetElapsedTime(snapshot.TakenAt) > snapshot.MaxAge)
            {
                Snapshots.TryRemove(owner, out _);
                continue;
            }

            current.AddRange(snapshot.Stats);
        }

        return current;
    }

    private sealed record Snapshot(IReadOnlyList<QueueStats> Stats, long TakenAt, TimeSpan MaxAge);
}
