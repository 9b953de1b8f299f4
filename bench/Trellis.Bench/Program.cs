using System.Globalization;
using System.Text.Json;
using Trellis.Bench;

// One workload, one repetition, one JSON result (the same field names as the peers' drivers).
//   Trellis.Bench w1|w2|w3|w4|timers|events --db-url URL [--n N] [--concurrency C] [--samples S] [--width W] [--variant event|message] [--out FILE]
//   Trellis.Bench fanout-kill --db-url URL [--width W] [--kill-at K] [--lease-ms L]   (SIGKILLs a worker process mid fan-out, resumes in another)
//   Trellis.Bench operations --db-url URL --prefill 1000000   (stats, analytics and run listings on a million finished runs)
//   Trellis.Bench commit --db-url URL [--samples S]   (the idle commit latency under W3, no Trellis involved)
//   Trellis.Bench plans --db-url URL --prefill 1000000 --md FILE   (EXPLAIN of the hot statements, not timed)
if (args is ["summarize", var rawDirectory])
{
    Console.Write(Summary.Build(rawDirectory));
    return;
}

var options = BenchOptions.Parse(args);
var result = options.Workload switch
{
    "w1" => await Runs.W1Async(options),
    "w2" => await Runs.W2Async(options),
    "w3" => await Runs.W3Async(options),
    "w4" => options.Values.GetValueOrDefault("variant", "steps") == "children" ? await Runs.W4ChildrenAsync(options) : await Runs.W4Async(options),
    "fanout-kill" => await Runs.FanOutKillAsync(options),
    "fanout-worker" => await Runs.FanOutWorkerAsync(options),
    "timers" => await Runs.TimersAsync(options),
    "events" => await Runs.EventsAsync(options),
    "commit" => await Runs.IdleCommitAsync(options),
    "operations" => await Runs.OperationsAsync(options),
    "plans" => await Runs.PlansAsync(options),
    _ => throw new ArgumentException($"Unknown workload '{options.Workload}'; use w1, w2, w3, w4, fanout-kill, timers, events, commit, operations or plans."),
};
result["system"] = "trellis";
result["dotnet"] = Environment.Version.ToString();
result["peakRssMb"] = PeakRssMb();
result["finishedAt"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
Console.WriteLine(json);
if (options.Out is { } path)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    await File.WriteAllTextAsync(path, json);
}

static double PeakRssMb()
{
    var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
}
