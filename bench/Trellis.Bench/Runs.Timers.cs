using System.Diagnostics;
using Npgsql;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>The timer workload: many runs that sleep, and how late each wakes.</summary>
internal static partial class Runs
{
    /// <summary>
    /// Starts N runs at a steady rate (--rate per second, in batches every 100 ms) that each sleep 2 s (out of the
    /// worker) and then run one step. A run's lateness is the start of that
    /// step (worker clock) minus the end of its sleep (database clock, the same machine): the wake-up, the claim and the
    /// replay up to the step.
    /// </summary>
    public static async Task<Dictionary<string, object?>> TimersAsync(BenchOptions options)
    {
        var n = options.Int("n", 10_000);
        var rate = options.Int("rate", 1_000);
        await using var engine = await Engine(options, worker: true).AddWorkflow<Napper>().StartAsync();
        var start = Stopwatch.GetTimestamp();
        var ids = new List<string>(n);
        var perBatch = Math.Max(1, rate / 10);
        for (var next = 0; next < n; next += perBatch)
        {
            var due = start + (long)(next / (double)rate * Stopwatch.Frequency);
            if (Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due) is { TotalMilliseconds: > 0 } wait)
            {
                await Task.Delay(wait);
            }

            ids.AddRange(await engine.Client.StartManyAsync<Napper>(Enumerable.Range(next, Math.Min(perBatch, n - next)).Select(i => (object?)i)));
        }

        var started = Stopwatch.GetTimestamp();
        await using var dataSource = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        while (await CountAsync(dataSource, "SELECT count(*) FROM trellis.runs WHERE workflow_name = 'Napper' AND status = 'completed'") < n)
        {
            await Task.Delay(50);
        }

        var end = Stopwatch.GetTimestamp();
        var lateness = new List<double>(n);
        await using (var command = dataSource.CreateCommand("""
            SELECT extract(epoch FROM w.started_at - (s.result->>'until')::timestamptz) * 1000
            FROM trellis.steps s JOIN trellis.steps w ON w.run_id = s.run_id AND w.seq = s.seq + 1
            WHERE s.name = 'sleep' AND w.name = 'woke'
            """))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                lateness.Add((double)reader.GetDecimal(0));
            }
        }

        if (lateness.Count != ids.Count)
        {
            throw new InvalidOperationException($"{lateness.Count} woken runs measured; expected {ids.Count}");
        }

        return new()
        {
            ["workload"] = "timers",
            ["n"] = n,
            ["config"] = Config(options),
            ["sleepMs"] = Napper.Nap.TotalMilliseconds,
            ["startsPerS"] = rate,
            ["startPhaseMs"] = Ms(start, started),
            ["achievedStartsPerS"] = n / (Ms(start, started) / 1000),
            ["totalMs"] = Ms(start, end),
            ["lateness"] = Stats.Of(lateness),
        };
    }
}
