using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Trellis.Bench;

/// <summary>
/// Reads every <c>&lt;case&gt;-repN.json</c> in a folder (Trellis's and the peers', from the same run) and
/// writes the comparison table: median [min–max] per case, each target with the peer measured alongside.
/// </summary>
internal static class Summary
{
    /// <summary>A row shown for its comparison, with no target of its own.</summary>
    private static readonly Func<double, double?, bool> NoTarget = (_, _) => true;

    private sealed record Target(string Workload, string Ours, string Peer, string Metric, bool HigherIsBetter, Func<double, double?, bool> Met, string Goal);

    public static string Build(string rawDirectory)
    {
        var cases = LoadCases(rawDirectory);
        var text = new StringBuilder();
        text.AppendLine("| workload | Trellis | peer (same run) | ratio | target | met |");
        text.AppendLine("| --- | --- | --- | --- | --- | --- |");

        Target[] targets =
        [
            new("W1 enqueue, 20k, 1,000 per call (jobs/s)", "trellis-w1-n20000", "graphile-w1-n20000", "enqueuePerS", true,
                (ours, peer) => ours >= 65000 && peer is { } p && ours >= 1.2 * p, "≥ 65k/s and ≥ 1.2× graphile-worker"),
            new("W1 enqueue, 200k, 1,000 per call (jobs/s)", "trellis-w1-n200000", "graphile-w1-n200000", "enqueuePerS", true,
                (ours, peer) => ours >= 65000 && peer is { } p && ours >= 1.2 * p, "≥ 65k/s and ≥ 1.2× graphile-worker"),
            new("W1 drain, 20k no-op jobs (jobs/s)", "trellis-w1-n20000", "graphile-w1-n20000", "processPerS", true,
                (ours, peer) => peer is { } p && ours >= 1.2 * p, "≥ 1.2× graphile-worker"),
            new("W1 drain, 200k no-op jobs (jobs/s)", "trellis-w1-n200000", "graphile-w1-n200000", "processPerS", true,
                (ours, peer) => peer is { } p && ours >= 1.2 * p, "≥ 1.2× graphile-worker"),
            new("W2, 5,000 workflows × 3 steps (workflows/s)", "trellis-w2-n5000", "dbos-w2-n5000", "workflowsPerS", true,
                (ours, peer) => peer is { } p && ours >= 10 * p, "≥ 10× DBOS"),
            new("W3 idle latency, p50 (ms)", "trellis-w3", "dbos-w3-direct", "e2e.p50", false,
                (ours, _) => ours <= 2.5, "≤ 2.5 ms"),
            new("W3 idle latency, p99 (ms)", "trellis-w3", "dbos-w3-direct", "e2e.p99", false,
                (ours, _) => ours <= 6, "≤ 6 ms"),
            new("W4 fan-out, 1,000 per-item steps (ms)", "trellis-w4-steps", "dbos-w4-steps", "totalMs", false,
                (ours, _) => ours <= 500, "≤ 500 ms"),
            new("W4 fan-out, 1,000 child runs (ms)", "trellis-w4-children", "dbos-w4-children", "totalMs", false,
                (ours, _) => ours <= 1000, "≤ 1 s"),
            // Publish (send) call start to the waiting run's next step body; DBOS's case is send/recv.
            new("Event round trip, idle, p50 (ms)", "trellis-events", "dbos-events", "wake.p50", false,
                (ours, _) => ours <= 3, "≤ 3 ms"),
            new("Event round trip, idle, p90 (ms)", "trellis-events", "dbos-events", "wake.p90", false, NoTarget, "—"),
            new("Event round trip, idle, p99 (ms)", "trellis-events", "dbos-events", "wake.p99", false, NoTarget, "—"),
            new("Message round trip (SendAsync/ReceiveAsync), idle, p50 (ms)", "trellis-messages", "dbos-events", "wake.p50", false,
                (ours, _) => ours <= 3, "≤ 3 ms"),
            new("Message round trip (SendAsync/ReceiveAsync), idle, p99 (ms)", "trellis-messages", "dbos-events", "wake.p99", false, NoTarget, "—"),
            new("Timer lateness, 10,000 runs sleeping 2 s, 1,000 started/s, p50 (ms)", "trellis-timers", "dbos-timers", "lateness.p50", false,
                (ours, _) => ours <= 20, "≤ 20 ms"),
            new("Timer lateness, 10,000 runs sleeping 2 s, 1,000 started/s, p99 (ms)", "trellis-timers", "dbos-timers", "lateness.p99", false,
                (ours, _) => ours <= 200, "≤ 200 ms"),
            new("Timer lateness, 2,000 runs sleeping 2 s, 100 started/s, p50 (ms)", "trellis-timers-r100", "dbos-timers-r100", "lateness.p50", false, NoTarget, "—"),
            new("Timer lateness, 2,000 runs sleeping 2 s, 100 started/s, p99 (ms)", "trellis-timers-r100", "dbos-timers-r100", "lateness.p99", false, NoTarget, "—"),
        ];

        foreach (var target in targets)
        {
            var ours = Median(cases, target.Ours, target.Metric);
            var peer = Median(cases, target.Peer, target.Metric);
            var ratio = ours is { } o && peer is { } p && p > 0 ? (target.HigherIsBetter ? o / p : p / o) : (double?)null;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {target.Workload} | {Cell(cases, target.Ours, target.Metric)} | {Cell(cases, target.Peer, target.Metric)} ({PeerName(target.Peer)}) | "
                + $"{(ratio is { } r ? $"{r:0.00}×" : "—")} | {target.Goal} | {(ours is not { } v ? "not run" : target.Met == NoTarget ? "—" : target.Met(v, peer) ? "yes" : "**no**")} |");
        }

        var memory = Median(cases, "trellis-w2-n5000", "peakRssMb");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| Memory: peak RSS during W2 (MB) | {Cell(cases, "trellis-w2-n5000", "peakRssMb")} | — | — | < 150 MB | {(memory is { } m ? (m < 150 ? "yes" : "**no**") : "not run")} |");
        foreach (var (workload, empty, full, metric, higherIsBetter) in new[]
        {
            ("Cost growth: W1 drain, 1M finished runs", "trellis-w1-n20000", "trellis-w1-n20000-1m", "processPerS", true),
            ("Cost growth: W1 enqueue, 1M finished runs", "trellis-w1-n20000", "trellis-w1-n20000-1m", "enqueuePerS", true),
            ("Cost growth: W2, 1M finished runs", "trellis-w2-n5000", "trellis-w2-n5000-1m", "workflowsPerS", true),
            ("Cost growth: W3 p50 (ms), 1M finished runs", "trellis-w3", "trellis-w3-1m", "e2e.p50", false),
        })
        {
            var before = Median(cases, empty, metric);
            var after = Median(cases, full, metric);
            // As a ratio of speed: below 1 is slower on the full tables, whichever way the metric points.
            var change = before is { } b && after is { } a ? (higherIsBetter ? a / b : b / a) : (double?)null;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {workload} | {Cell(cases, full, metric)} | empty tables: {Cell(cases, empty, metric)} | {(change is { } c ? $"{c:0.00}×" : "—")} | within 10 % | {(change is { } x ? (x >= 0.9 ? "yes" : "**no**") : "not run")} |");
        }

        if (Median(cases, "trellis-b-idle-commit", "commit.p50") is { } commit && Median(cases, "trellis-b-idle-commit", "gapMs") is { } idleMs)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"The floor under W3 in this run: one idle commit from .NET (an INSERT after {idleMs:0} ms of idle, no Trellis) took {commit:0.00} ms at the median; "
                + $"W3 needs two (the start, then the outcome), {2 * commit:0.00} ms.");
        }

        if (Median(cases, "trellis-waits-idle-commit", "commit.p50") is { } waitsCommit)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"The floor in the session of the waits (ONLY=waits): one idle commit from .NET took {waitsCommit:0.00} ms at the median; a round trip from a publish to the waiting run's next step takes two in a row in Trellis (the publish, which also completes the wait's row; the claim window's record) and the replay's read of the steps, two in DBOS.");
        }

        if (Median(cases, "trellis-w1-n200000", "processCpuPerRun.engineUs") is { } engineUs
            && Median(cases, "trellis-w1-n200000", "processCpuPerRun.databaseUs") is { } databaseUs
            && MedianOfSums(cases, "trellis-w1-n200000", "processCpuPerRun.engineUs", "processCpuPerRun.databaseUs") is { } totalUs)
        {
            // CPU time per run is the cost the throughput hides: on a machine of C cores, work that needs
            // engine + database microseconds of CPU per run cannot go faster than C / (engine + database).
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"CPU per run in the 200k drain (medians): the engine's process {engineUs:0.0} µs, PostgreSQL's processes {databaseUs:0.0} µs, "
                + $"together {totalUs:0.0} µs; with {Environment.ProcessorCount} cores that bounds the drain at {Environment.ProcessorCount * 1e6 / totalUs:#,0} runs/s.");
        }

        text.AppendLine();
        text.AppendLine("All cases, median [min–max] (repetitions):");
        text.AppendLine();
        text.AppendLine("| case | metric | value |");
        text.AppendLine("| --- | --- | --- |");
        foreach (var (name, runs) in cases.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            foreach (var metric in new[] { "enqueuePerS", "processPerS", "workflowsPerS", "stepsPerS", "e2e.p50", "e2e.p99", "pickup.p50", "enqueueCall.p50", "commit.p50", "commit.p99", "wake.p50", "wake.p90", "wake.p99", "publishCall.p50", "lateness.p50", "lateness.p99", "achievedStartsPerS", "totalMs", "peakRssMb", "tps", "resumeMs", "resumedWorkerPeakRssMb", "stats-1h.p50", "stats-1h.p99", "analytics-1h.p50", "analytics-1h.p99", "runs-list-100.p50", "runs-list-completed-100.p50", "runs-list-old-workflow-page-2.p50",
                         "enqueueCpuPerRun.engineUs", "enqueueCpuPerRun.databaseUs", "processCpuPerRun.engineUs", "processCpuPerRun.databaseUs",
                         "cpuPerWorkflow.engineUs", "cpuPerWorkflow.databaseUs" })
            {
                if (Values(runs, metric).Count > 0)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {metric} | {Cell(cases, name, metric)} |");
                }
            }
        }

        return text.ToString();
    }

    private static Dictionary<string, List<JsonElement>> LoadCases(string directory)
    {
        var cases = new Dictionary<string, List<JsonElement>>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(directory, "*-rep*.json"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var tag = name[..name.LastIndexOf("-rep", StringComparison.Ordinal)];
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            if (!cases.TryGetValue(tag, out var list))
            {
                cases[tag] = list = [];
            }

            list.Add(document.RootElement.Clone());
        }

        return cases;
    }

    private static List<double> Values(List<JsonElement> runs, string metric) =>
        runs.Select(r => Read(r, metric)).Where(v => v is not null).Select(v => v!.Value).ToList();

    private static double? Read(JsonElement element, string path)
    {
        foreach (var part in path.Split('.'))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element))
            {
                return null;
            }
        }

        return element.ValueKind == JsonValueKind.Number ? element.GetDouble() : null;
    }

    private static double? Median(Dictionary<string, List<JsonElement>> cases, string tag, string metric)
    {
        if (!cases.TryGetValue(tag, out var runs))
        {
            return null;
        }

        return MedianOf(Values(runs, metric));
    }

    /// <summary>The median over the repetitions of two metrics added up (not the sum of their medians).</summary>
    private static double? MedianOfSums(Dictionary<string, List<JsonElement>> cases, string tag, string first, string second)
    {
        if (!cases.TryGetValue(tag, out var runs))
        {
            return null;
        }

        return MedianOf(runs.Select(r => Read(r, first) + Read(r, second)).OfType<double>().ToList());
    }

    private static double? MedianOf(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? null : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Cell(Dictionary<string, List<JsonElement>> cases, string tag, string metric)
    {
        if (!cases.TryGetValue(tag, out var runs) || Values(runs, metric) is not { Count: > 0 } values)
        {
            return "not run";
        }

        var median = Median(cases, tag, metric)!.Value;
        var digits = median < 100 ? "0.00" : "#,0";
        return string.Create(CultureInfo.InvariantCulture, $"{median.ToString(digits, CultureInfo.InvariantCulture)} [{values.Min().ToString(digits, CultureInfo.InvariantCulture)}–{values.Max().ToString(digits, CultureInfo.InvariantCulture)}] ({values.Count}×)");
    }

    private static string PeerName(string tag) => tag.Split('-')[0] switch
    {
        "graphile" => "graphile-worker",
        "dbos" => "DBOS",
        "pgboss" => "pg-boss",
        var other => other,
    };
}
