using System.Diagnostics;
using Npgsql;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>The workloads, one repetition each: W1, the queue (enqueue then drain), and what they share.</summary>
internal static partial class Runs
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
}
