using System.Diagnostics;
using Npgsql;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>The workloads that time each run or step: W2, W3, the idle commit, W4, and the plans (not timed).</summary>
internal static partial class Runs
{
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
            ["config"] = new Dictionary<string, object?> { ["children"] = $"ctx.ForEachAsync over {width} items, maxParallelism {Math.Min(width, 1000)}, one checkpoint row per item" },
            ["totalMs"] = Ms(start, end),
            ["childrenPerS"] = width / (Ms(start, end) / 1000),
        };
    }

    /// <summary>W4, children variant: a parent starts <c>width</c> no-op children and gets all their results.</summary>
    public static async Task<Dictionary<string, object?>> W4ChildrenAsync(BenchOptions options)
    {
        var width = options.Int("width", 1000);
        await using var engine = await Engine(options, worker: true).AddWorkflow<ChildFanOut>().AddWorkflow<NoOpChild>().StartAsync();
        await Task.Delay(500);

        var start = Stopwatch.GetTimestamp();
        var run = await engine.Client.StartAsync<ChildFanOut>(width);
        var count = await run.GetResultAsync();
        var end = Stopwatch.GetTimestamp();

        await using var probe = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        var children = await CountAsync(probe, "SELECT count(*) FROM trellis.runs WHERE parent_id IS NOT NULL AND status = 'completed'");
        if (count != width || children != width)
        {
            throw new InvalidOperationException($"the parent counted {count} results, {children} children completed; expected {width}");
        }

        return new()
        {
            ["workload"] = "W4-fan-out",
            ["variant"] = "children",
            ["n"] = width,
            ["config"] = new Dictionary<string, object?> { ["children"] = $"ctx.Child<NoOpChild>().StartManyAsync of {width} child runs (one statement), GetResultsAsync" },
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
