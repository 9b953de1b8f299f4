using System.Diagnostics;
using Npgsql;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>The operator's reads on a table of 1,000,000 finished runs: statistics, analytics, run listings.</summary>
internal static partial class Runs
{
    /// <summary>
    /// Prefills finished runs (--prefill, a day old), then runs 2,000 three-step workflows so the last hour has work in
    /// it, then times each read --samples times, one after another, on an idle engine: what /api/stats, /api/analytics
    /// and `runs list` cost.
    /// </summary>
    public static async Task<Dictionary<string, object?>> OperationsAsync(BenchOptions options)
    {
        var samples = options.Int("samples", 50);
        var recent = options.Int("recent", 2000);
        await using var engine = await Engine(options, worker: true).AddWorkflow<ThreeSteps>().StartAsync();
        await PrefillAsync(options);
        var started = await engine.Client.StartManyAsync<ThreeSteps>(Enumerable.Range(0, recent).Select(i => (object?)i));
        foreach (var id in started)
        {
            await engine.Client.GetHandle<ThreeSteps>(id).GetResultAsync();
        }

        var client = engine.Client;
        var reads = new (string Name, Func<Task> Read)[]
        {
            ("stats-1h", () => client.GetStatisticsAsync(TimeSpan.FromHours(1))),
            ("analytics-1h", () => client.GetAnalyticsAsync(TimeSpan.FromHours(1))),
            ("runs-list-100", () => client.ListRunsAsync(new RunQuery { Limit = 100 })),
            ("runs-list-completed-100", () => client.ListRunsAsync(new RunQuery { Status = RunStatus.Completed, Limit = 100 })),
            ("runs-list-old-workflow-page-2", async () =>
            {
                var first = await client.ListRunsAsync(new RunQuery { WorkflowName = "Old", Limit = 100 });
                await client.ListRunsAsync(new RunQuery { WorkflowName = "Old", Limit = 100, Cursor = first.NextCursor });
            }),
        };
        var result = new Dictionary<string, object?>
        {
            ["workload"] = "operations",
            ["config"] = Config(options),
            ["recentRuns"] = recent,
            ["samples"] = samples,
        };
        foreach (var (name, read) in reads)
        {
            await read(); // first use: statement preparation, JIT
            var times = new List<double>(samples);
            for (var i = 0; i < samples; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await read();
                times.Add(Ms(start, Stopwatch.GetTimestamp()));
            }

            result[name] = Stats.Of(times);
        }

        if (options.Values.GetValueOrDefault("md") is { } path)
        {
            await using var dataSource = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
            await File.WriteAllTextAsync(path, await Plans.ExplainOperationsAsync(dataSource));
        }

        return result;
    }
}
