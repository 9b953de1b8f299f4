namespace Trellis.Bench;

/// <summary>Garbage collections per generation between two points of a workload.</summary>
internal static class Collections
{
    public static int[] Now() => [.. Enumerable.Range(0, 3).Select(GC.CollectionCount)];

    public static Dictionary<string, int> Since(int[] before) =>
        Enumerable.Range(0, 3).ToDictionary(g => $"gen{g}", g => GC.CollectionCount(g) - before[g]);
}

/// <summary>The JIT's work in this process (all threads), as counted by the runtime.</summary>
internal static class JitActivity
{
    public static (long Methods, TimeSpan Time) Now() => (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());

    public static Dictionary<string, double> Since((long Methods, TimeSpan Time) before) => new()
    {
        ["methods"] = System.Runtime.JitInfo.GetCompiledMethodCount() - before.Methods,
        ["ms"] = Math.Round((System.Runtime.JitInfo.GetCompilationTime() - before.Time).TotalMilliseconds, 1),
    };
}

/// <summary>Nearest-rank percentiles, as the peers' lib/common.mjs computes them.</summary>
internal static class Stats
{
    public static Dictionary<string, double> Of(List<double> samples)
    {
        var sorted = samples.Order().ToArray();
        double Percentile(double p) => sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new()
        {
            ["n"] = sorted.Length,
            ["p50"] = Percentile(50),
            ["p90"] = Percentile(90),
            ["p99"] = Percentile(99),
            ["min"] = sorted[0],
            ["max"] = sorted[^1],
            ["mean"] = sorted.Average(),
        };
    }
}
