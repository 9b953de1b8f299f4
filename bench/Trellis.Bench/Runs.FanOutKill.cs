using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>
/// A wide fan-out whose worker is killed part-way (SIGKILL, a worker process of its own), then resumed by a fresh
/// worker process: how long the resume takes, the resumed worker's peak memory, and that no stored item ran again.
/// </summary>
internal static partial class Runs
{
    /// <summary>The orchestrator: starts the run, a worker, kills it at <c>kill-at</c> stored items, starts another.</summary>
    public static async Task<Dictionary<string, object?>> FanOutKillAsync(BenchOptions options)
    {
        var width = options.Int("width", 100_000);
        var killAt = options.Int("kill-at", width * 3 / 5);
        var leaseMs = options.Int("lease-ms", 2000);
        if (killAt <= 0 || killAt >= width)
        {
            throw new ArgumentException("--kill-at must be between 1 and --width - 1.");
        }

        await using var client = await Engine(options, worker: false).AddWorkflow<FanOut>().StartAsync();
        var run = await client.Client.StartAsync<FanOut>(width);
        await using var probe = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        var storedItems = $"SELECT count(*) FROM trellis.steps WHERE run_id = '{run.RunId}' AND item_index IS NOT NULL AND status = 'completed'";

        var start = Stopwatch.GetTimestamp();
        using (var first = StartWorkerProcess(options, run.RunId, leaseMs, resultPath: null))
        {
            while (await CountAsync(probe, storedItems) < killAt)
            {
                if (first.HasExited)
                {
                    throw new InvalidOperationException($"the first worker ended (exit {first.ExitCode}) before item {killAt}.");
                }

                await Task.Delay(2);
            }

            first.Kill(); // SIGKILL on Linux
            await first.WaitForExitAsync();
        }

        var killed = Stopwatch.GetTimestamp();
        var storedAtKill = await CountAsync(probe, storedItems);
        var resumedResultPath = Path.Combine(Path.GetTempPath(), $"trellis-fanout-resume-{Environment.ProcessId}.json");
        using (var second = StartWorkerProcess(options, run.RunId, leaseMs, resumedResultPath))
        {
            await second.WaitForExitAsync();
            if (second.ExitCode != 0)
            {
                throw new InvalidOperationException($"the resumed worker failed (exit {second.ExitCode}).");
            }
        }

        var end = Stopwatch.GetTimestamp();
        using var resumed = JsonDocument.Parse(await File.ReadAllTextAsync(resumedResultPath));
        File.Delete(resumedResultPath);
        var itemsRunByResumed = resumed.RootElement.GetProperty("itemsRun").GetInt64();
        var rows = await CountAsync(probe, storedItems);
        var output = await client.Client.GetHandle<FanOut>(run.RunId).GetResultAsync();
        if (output != width || rows != width || itemsRunByResumed != width - storedAtKill)
        {
            throw new InvalidOperationException(
                $"the run returned {output} with {rows} item rows; the resumed worker ran {itemsRunByResumed} items, {width - storedAtKill} were left at the kill");
        }

        return new()
        {
            ["workload"] = "W4-fan-out-kill",
            ["n"] = width,
            ["config"] = new Dictionary<string, object?>
            {
                ["children"] = $"ctx.ForEachAsync over {width} items, 1,000 at a time, one checkpoint row per item",
                ["kill"] = $"SIGKILL of the worker process once {killAt} item rows are stored; a fresh worker process resumes the run",
                ["leaseMs"] = leaseMs,
                ["build"] = Environment.GetEnvironmentVariable("TRELLIS_BENCH_BUILD") ?? "not stated",
            },
            ["storedAtKill"] = storedAtKill,
            ["itemsRunByResumedWorker"] = itemsRunByResumed,
            ["firstWorkerMs"] = Ms(start, killed),
            // Kill to the run's result in the resumed worker, including the lease's expiry (leaseMs) before it is taken.
            ["resumeMs"] = Ms(killed, end),
            // The resumed worker's own figures: process start to result, claim to result, and its peak RSS.
            ["resumedWorker"] = JsonSerializer.Deserialize<Dictionary<string, object?>>(resumed.RootElement.GetRawText()),
            ["resumedWorkerPeakRssMb"] = resumed.RootElement.GetProperty("peakRssMb").GetDouble(),
        };
    }

    /// <summary>A worker process of its own: runs the engine until the given run ends, counting the item bodies it ran.</summary>
    public static async Task<Dictionary<string, object?>> FanOutWorkerAsync(BenchOptions options)
    {
        var runId = options.Values.GetValueOrDefault("run-id") ?? throw new ArgumentException("--run-id is required.");
        var processStart = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        await using var engine = await Engine(options, worker: true)
            .ConfigureWorker(w => w.LeaseDuration = TimeSpan.FromMilliseconds(options.Int("lease-ms", 2000)))
            .AddWorkflow<FanOut>()
            .StartAsync();
        var output = await engine.Client.GetHandle<FanOut>(runId).GetResultAsync();
        return new()
        {
            ["workload"] = "fan-out-worker",
            ["output"] = output,
            ["itemsRun"] = FanOut.ItemsRun,
            ["processStartToResultMs"] = (DateTime.UtcNow - processStart).TotalMilliseconds,
        };
    }

    private static Process StartWorkerProcess(BenchOptions options, string runId, int leaseMs, string? resultPath)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(Runs).Assembly.Location);
        }

        foreach (var argument in new[] { "fanout-worker", "--db-url", options.DbUrl, "--run-id", runId, "--lease-ms", $"{leaseMs}" })
        {
            start.ArgumentList.Add(argument);
        }

        if (resultPath is not null)
        {
            start.ArgumentList.Add("--out");
            start.ArgumentList.Add(resultPath);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start a worker process");
        _ = process.StandardOutput.ReadToEndAsync(); // the worker's result goes to --out; its stdout is drained, not read
        return process;
    }
}
