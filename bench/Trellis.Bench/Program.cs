using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Trellis;
using Trellis.Bench;
using Trellis.Postgres;

// One workload, one repetition, one JSON result (the same field names as the peers' drivers).
//   Trellis.Bench w1|w2|w3|w4 --db-url URL [--n N] [--concurrency C] [--samples S] [--width W] [--out FILE]
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
    "w4" => await Runs.W4Async(options),
    "commit" => await Runs.IdleCommitAsync(options),
    "plans" => await Runs.PlansAsync(options),
    _ => throw new ArgumentException($"Unknown workload '{options.Workload}'; use w1, w2, w3, w4, commit or plans."),
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

internal sealed record BenchOptions(string Workload, string DbUrl, Dictionary<string, string> Values, string? Out)
{
    public int Int(string name, int fallback) =>
        Values.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

    public static BenchOptions Parse(string[] args)
    {
        if (args.Length == 0)
        {
            throw new ArgumentException("usage: Trellis.Bench w1|w2|w3|w4 --db-url URL [--n N] [--concurrency C] [--samples S] [--width W] [--out FILE]");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        var url = values.GetValueOrDefault("db-url") ?? ConnectionStrings.FromEnvironment()
            ?? throw new ArgumentException("--db-url (or TRELLIS_DATABASE_URL) is required.");
        return new BenchOptions(args[0], url, values, values.GetValueOrDefault("out"));
    }
}

internal static class Runs
{
    private static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    private static TrellisBuilder Engine(BenchOptions options, bool worker) =>
        TrellisEngine.Create()
            .UsePostgres(options.DbUrl, pg => pg.ReadEnvironment = false)
            .ConfigureWorker(w =>
            {
                w.Enabled = worker;
                w.MaxConcurrentRuns = options.Int("slots", 256);
                w.ClaimBatchSize = options.Int("claim-batch", 256);
                w.CheckpointLanes = options.Int("lanes", w.CheckpointLanes);
            });

    private static Dictionary<string, object?> Config(BenchOptions options) => new()
    {
        ["slots"] = options.Int("slots", 256),
        ["claimBatch"] = options.Int("claim-batch", 256),
        ["checkpointLanes"] = options.Int("lanes", new WorkerOptions().CheckpointLanes),
        ["prefilledFinishedRuns"] = options.Int("prefill", 0),
        ["process"] = "client and worker in one .NET process",
        ["build"] = Environment.GetEnvironmentVariable("TRELLIS_BENCH_BUILD") ?? "not stated (run through bench/run.sh to record it)",
    };

    /// <summary>
    /// For the cost-growth cases: fills the tables with finished runs (and three steps each) before the
    /// timed part, then VACUUM ANALYZE, as autovacuum would have done on a system that got there over time.
    /// The runs are a day old, with ids laid out as Trellis makes them (UUIDv7 text, led by the creation
    /// time in milliseconds), so, as in a real history, they sort before every run the workload creates.
    /// </summary>
    private static async Task PrefillAsync(BenchOptions options)
    {
        var count = options.Int("prefill", 0);
        if (count == 0)
        {
            return;
        }

        await using var dataSource = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        foreach (var sql in new[]
        {
            $"""
            INSERT INTO trellis.runs (id, workflow_name, workflow_version, queue, status, input, output, max_attempts, attempt, epoch,
                                      created_at, started_at, updated_at, completed_at)
            SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7000-8000-' || lpad(to_hex(i), 12, '0'),
                   'Old', 1, 'default', 'completed', jsonb_build_object('i', i), jsonb_build_object('i', i), 3, 1, 1,
                   created_at, created_at, created_at, created_at
            FROM generate_series(1, {count}) i,
                 LATERAL (SELECT now() - interval '1 day' + i * interval '1 ms' AS created_at) c,
                 LATERAL (SELECT lpad(to_hex((extract(epoch FROM c.created_at) * 1000)::bigint), 12, '0') AS h) v
            """,
            $"""
            INSERT INTO trellis.steps (run_id, seq, name, status, result, attempts, epoch, started_at, completed_at)
            SELECT r.id, s, 'old-step-' || s, 'completed', jsonb_build_object('s', s, 'i', r.input -> 'i'), 1, 1, now(), now()
            FROM trellis.runs r CROSS JOIN LATERAL generate_series(0, 2) s
            WHERE r.workflow_name = 'Old'
            """,
            "VACUUM ANALYZE trellis.runs",
            "VACUUM ANALYZE trellis.steps",
            // The prefill wrote about a gigabyte of WAL; without this, the checkpoint it triggers would run
            // during the timed phase. The workloads' rule: schema in place, then CHECKPOINT and 2 s idle.
            "CHECKPOINT",
        })
        {
            await using var command = dataSource.CreateCommand(sql);
            command.CommandTimeout = 0;
            await command.ExecuteNonQueryAsync();
        }

        await Task.Delay(2000);
    }

    /// <summary>W1: enqueue N no-op runs in bulk calls of 1,000, then start a worker and drain them.</summary>
    public static async Task<Dictionary<string, object?>> W1Async(BenchOptions options)
    {
        var n = options.Int("n", 20000);
        var chunk = options.Int("chunk", 1000);
        var inputs = Enumerable.Range(0, n).Select(i => (object?)new NoOp.Payload(i)).ToArray();

        await using var client = await Engine(options, worker: false).AddWorkflow<NoOp>().StartAsync();
        await PrefillAsync(options);
        var callMs = new List<double>();
        var enqueueCpu = CpuUse.Now();
        var enqueueStart = Stopwatch.GetTimestamp();
        for (var offset = 0; offset < n; offset += chunk)
        {
            var callStart = Stopwatch.GetTimestamp();
            await client.Client.StartManyAsync<NoOp>(inputs[offset..Math.Min(n, offset + chunk)]);
            callMs.Add(Ms(callStart, Stopwatch.GetTimestamp()));
        }

        var enqueueEnd = Stopwatch.GetTimestamp();
        var enqueueCpuPerRun = CpuUse.PerUnitSince(enqueueCpu, n);
        await using var probe = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        var pending = await CountAsync(probe, "SELECT count(*) FROM trellis.runs WHERE status = 'pending' AND workflow_name = 'NoOp'");
        if (pending != n)
        {
            throw new InvalidOperationException($"{pending} pending runs after enqueuing {n}.");
        }

        var processCpu = CpuUse.Now();
        var collectionsBefore = Collections.Now();
        var jitBefore = JitActivity.Now();
        var processStart = Stopwatch.GetTimestamp();
        await using var worker = await Engine(options, worker: true).AddWorkflow<NoOp>().StartAsync();
        var workerStarted = Stopwatch.GetTimestamp();
        while (NoOp.Handled < n)
        {
            await Task.Delay(5);
        }

        while (await CountAsync(probe, "SELECT count(*) FROM trellis.runs WHERE status IN ('pending', 'running') AND workflow_name = 'NoOp'") > 0)
        {
            await Task.Delay(5);
        }

        var processEnd = Stopwatch.GetTimestamp();
        var processCpuPerRun = CpuUse.PerUnitSince(processCpu, n);
        var collections = Collections.Since(collectionsBefore);
        var jit = JitActivity.Since(jitBefore);
        var completed = await CountAsync(probe, "SELECT count(*) FROM trellis.runs WHERE status = 'completed' AND workflow_name = 'NoOp'");
        if (completed != n)
        {
            throw new InvalidOperationException($"{completed} completed runs; expected {n}.");
        }

        return new()
        {
            ["workload"] = "W1-queue",
            ["n"] = n,
            ["enqueueChunk"] = chunk,
            ["config"] = Config(options),
            ["enqueueMs"] = Ms(enqueueStart, enqueueEnd),
            ["enqueuePerS"] = n / (Ms(enqueueStart, enqueueEnd) / 1000),
            // The first call pays for first use (JIT of what ReadyToRun left out, the statement's preparation).
            ["enqueueFirstCallMs"] = callMs[0],
            ["enqueueCall"] = Stats.Of(callMs),
            ["enqueueCpuPerRun"] = enqueueCpuPerRun,
            ["processMs"] = Ms(processStart, processEnd),
            ["processPerS"] = n / (Ms(processStart, processEnd) / 1000),
            // Part of the process phase, as the workload defines it: the worker's engine start (connections,
            // schema check, definitions, LISTEN) before its first claim.
            ["workerStartMs"] = Ms(processStart, workerStarted),
            // Both figures include the phase's end check (a count every 5 ms once every run was handled).
            ["processCpuPerRun"] = processCpuPerRun,
            ["processGcCollections"] = collections,
            // Code compiled during the phase (what ReadyToRun left out, and hot methods recompiled optimised):
            // the CPU per run at 20k is well above the 200k figure; this says how much of that is the JIT.
            ["processJit"] = jit,
            ["handled"] = NoOp.Handled,
        };
    }

    /// <summary>W2: N three-step workflows, C in flight, each started as soon as another returns its result.</summary>
    public static async Task<Dictionary<string, object?>> W2Async(BenchOptions options)
    {
        var n = options.Int("n", 5000);
        var concurrency = options.Int("concurrency", 256);
        await using var engine = await Engine(options, worker: true).AddWorkflow<ThreeSteps>().StartAsync();
        await PrefillAsync(options);

        var next = -1;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var collectionsBefore = Collections.Now();
        var cpu = CpuUse.Now();
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < n; i = Interlocked.Increment(ref next))
            {
                var run = await engine.Client.StartAsync<ThreeSteps>(i);
                var output = await run.GetResultAsync();
                if (output.I != i || output.Last != 3)
                {
                    throw new InvalidOperationException($"run {i} returned {output}");
                }
            }
        }));
        var end = Stopwatch.GetTimestamp();
        var cpuPerWorkflow = CpuUse.PerUnitSince(cpu, n);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var collections = Collections.Since(collectionsBefore);

        await using var probe = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        var workflows = await CountAsync(probe, "SELECT count(*) FROM trellis.runs WHERE status = 'completed' AND workflow_name = 'ThreeSteps'");
        var steps = await CountAsync(probe, "SELECT count(*) FROM trellis.steps WHERE status = 'completed' AND name IN ('step1', 'step2', 'step3')");
        if (workflows != n || steps != 3 * n)
        {
            throw new InvalidOperationException($"verification failed: {workflows} workflows, {steps} steps");
        }

        var seconds = Ms(start, end) / 1000;
        return new()
        {
            ["workload"] = "W2-workflow-3-steps",
            ["n"] = n,
            ["concurrency"] = concurrency,
            ["config"] = Config(options),
            ["totalMs"] = Ms(start, end),
            ["workflowsPerS"] = n / seconds,
            ["stepsPerS"] = 3 * n / seconds,
            // Client and worker together, per workflow (start, three checkpointed steps, outcome, result).
            ["cpuPerWorkflow"] = cpuPerWorkflow,
            ["allocatedKbPerWorkflow"] = allocated / 1024.0 / n,
            ["gcCollections"] = collections,
            ["verified"] = new Dictionary<string, long> { ["workflows"] = workflows, ["steps"] = steps },
        };
    }

    /// <summary>W3: one run at a time on an idle engine; start call to the caller seeing the durable result.</summary>
    public static async Task<Dictionary<string, object?>> W3Async(BenchOptions options)
    {
        var samples = options.Int("samples", 200);
        var warmup = options.Int("warmup", 10);
        var gapMs = options.Int("gap-ms", 20);
        await using var engine = await Engine(options, worker: true).AddWorkflow<Latency>().StartAsync();
        await PrefillAsync(options);
        await using var probe = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        await Task.Delay(1000);

        var e2e = new List<double>();
        var pickup = new List<double>();
        var enqueue = new List<double>();
        var notDurable = 0;
        for (var s = 0; s < warmup + samples; s++)
        {
            var t0 = Stopwatch.GetTimestamp();
            var run = await engine.Client.StartAsync<Latency>(s);
            var tA = Stopwatch.GetTimestamp();
            await run.GetResultAsync();
            var t1 = Stopwatch.GetTimestamp();
            if ((await run.GetAsync()).Status != RunStatus.Completed)
            {
                notDurable++;
            }

            if (s >= warmup)
            {
                e2e.Add(Ms(t0, t1));
                pickup.Add(Ms(t0, Latency.Started[s]));
                enqueue.Add(Ms(t0, tA));
            }

            await Task.Delay(gapMs);
        }

        return new()
        {
            ["workload"] = "W3-latency",
            ["n"] = samples,
            ["warmup"] = warmup,
            ["gapMs"] = gapMs,
            ["config"] = Config(options),
            ["completionObservedBy"] = "run.GetResultAsync() in the process that runs the worker (woken by the worker's commit); status re-checked in the database afterwards (untimed)",
            ["statusNotCompletedAfterResult"] = notDurable,
            ["e2e"] = Stats.Of(e2e),
            ["pickup"] = Stats.Of(pickup),
            ["enqueueCall"] = Stats.Of(enqueue),
            ["samplesMs"] = e2e.Select(x => Math.Round(x, 3)).ToArray(),
        };
    }

    /// <summary>
    /// The floor under W3, without Trellis: a single-row INSERT and its commit through Npgsql (prepared), each
    /// after the same 20 ms of idle as W3's samples. W3 needs two such commits (the start, then the outcome).
    /// </summary>
    public static async Task<Dictionary<string, object?>> IdleCommitAsync(BenchOptions options)
    {
        var samples = options.Int("samples", 200);
        var warmup = options.Int("warmup", 10);
        var gapMs = options.Int("gap-ms", 20);
        await using var dataSource = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        await using (var create = dataSource.CreateCommand("CREATE TABLE idle_commit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sample int NOT NULL)"))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using var connection = await dataSource.OpenConnectionAsync();
        await using var insert = new NpgsqlCommand("INSERT INTO idle_commit (sample) VALUES ($1)", connection);
        var sample = new NpgsqlParameter<int> { TypedValue = 0 };
        insert.Parameters.Add(sample);
        await insert.PrepareAsync();

        var latencies = new List<double>();
        for (var s = 0; s < warmup + samples; s++)
        {
            sample.TypedValue = s;
            var t0 = Stopwatch.GetTimestamp();
            await insert.ExecuteNonQueryAsync();
            var t1 = Stopwatch.GetTimestamp();
            if (s >= warmup)
            {
                latencies.Add(Ms(t0, t1));
            }

            await Task.Delay(gapMs);
        }

        return new()
        {
            ["workload"] = "B-idle-commit",
            ["n"] = samples,
            ["warmup"] = warmup,
            ["gapMs"] = gapMs,
            ["config"] = new Dictionary<string, object?> { ["statement"] = "INSERT of one row, autocommit, prepared, one connection" },
            ["commit"] = Stats.Of(latencies),
        };
    }

    /// <summary>W4, per-item-steps variant: one run whose ForEachAsync runs 1,000 per-item steps.</summary>
    public static async Task<Dictionary<string, object?>> W4Async(BenchOptions options)
    {
        var width = options.Int("width", 1000);
        await using var engine = await Engine(options, worker: true).AddWorkflow<FanOut>().StartAsync();
        await Task.Delay(500);

        var start = Stopwatch.GetTimestamp();
        var run = await engine.Client.StartAsync<FanOut>(width);
        var count = await run.GetResultAsync();
        var end = Stopwatch.GetTimestamp();

        await using var probe = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        var rows = await CountAsync(probe, "SELECT count(*) FROM trellis.steps WHERE status = 'completed' AND item_index IS NOT NULL");
        if (count != width || rows != width)
        {
            throw new InvalidOperationException($"fan-out returned {count}, {rows} item rows; expected {width}");
        }

        return new()
        {
            ["workload"] = "W4-fan-out",
            ["variant"] = "steps",
            ["n"] = width,
            ["config"] = new Dictionary<string, object?> { ["children"] = $"ctx.ForEachAsync over {width} items, maxParallelism {width}, one checkpoint row per item" },
            ["totalMs"] = Ms(start, end),
            ["childrenPerS"] = width / (Ms(start, end) / 1000),
        };
    }

    /// <summary>The plans of the claim and checkpoint statements on prefilled tables, with a backlog of 10,000 pending runs.</summary>
    public static async Task<Dictionary<string, object?>> PlansAsync(BenchOptions options)
    {
        await using (var client = await Engine(options, worker: false).AddWorkflow<ThreeSteps>().StartAsync())
        {
            await PrefillAsync(options);
            for (var call = 0; call < 10; call++)
            {
                await client.Client.StartManyAsync<ThreeSteps>(Enumerable.Range(call * 1000, 1000).Select(i => (object?)i));
            }
        }

        await using var dataSource = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        var markdown = await Plans.ExplainAsync(options, dataSource);
        if (options.Values.GetValueOrDefault("md") is { } path)
        {
            await File.WriteAllTextAsync(path, markdown);
        }

        return new() { ["workload"] = "plans", ["prefilledFinishedRuns"] = options.Int("prefill", 0), ["plans"] = markdown };
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

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
