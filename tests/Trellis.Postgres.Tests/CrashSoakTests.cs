using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Trellis.Postgres.Embedded;
using Trellis.TestWorker;

namespace Trellis.Postgres.Tests;

/// <summary>Runs alone: its worker processes load the machine, and other tests' timings must not suffer from it.</summary>
[CollectionDefinition(nameof(CrashSoakTests), DisableParallelization = true)]
public sealed class CrashSoakCollection;

/// <summary>
/// Worker processes share hundreds of runs while they are SIGKILLed, frozen (SIGSTOP) for three leases and let go on
/// (SIGCONT), and PostgreSQL restarts in immediate mode; each run sleeps durably on the way (out of its worker, woken
/// by whichever worker is alive then) and waits for an event of its own, which the test publishes through the faults. Every step body records when it started, outside Trellis. At
/// the end every run has completed with the right output (its event's data included), none failed for worker losses,
/// each wait received one event and no event reached two, and no body started after its step's checkpoint had committed.
/// </summary>
/// <remarks>
/// The default size fits CI (about a minute). <c>TRELLIS_SOAK_RUNS</c>, <c>_WORKERS</c>, <c>_SLOTS</c>, <c>_RESTARTS</c>,
/// <c>_ITEMS</c>, <c>_STEP_MS</c>, <c>_ITEM_MS</c>, <c>_SLEEP_MS</c>, <c>_SECONDS</c> (the time the runs may take) and <c>_SEED</c> make it
/// larger or replay one sequence of faults.
/// </remarks>
[Collection(nameof(CrashSoakTests))]
public sealed class CrashSoakTests(ITestOutputHelper output)
{
    private const int LeaseMs = 2000;

    [Fact]
    public async Task WorkersKilledFrozenAndDatabaseRestarted_EveryRunCompletes_AndNoBodyStartsAfterItsCheckpoint()
    {
        var size = SoakSize.FromEnvironment();
        output.WriteLine($"soak: {size}");

        // A server of its own, restarted mid-run; commit timestamps tell when each checkpoint committed.
        var dataDirectory = EmbeddedPostgres.DefaultDataDirectory($"test-soak-{Guid.NewGuid():N}"[..19]);
        var server = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions
        {
            DataDirectory = dataDirectory,
            Settings = new Dictionary<string, string> { ["track_commit_timestamp"] = "on", ["max_connections"] = "300" },
        });
        try
        {
            await SoakAsync(server, size);
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(dataDirectory, recursive: true);
            File.Delete(server.LogFile);
            File.Delete(dataDirectory + ".lock");
        }
    }

    private async Task SoakAsync(EmbeddedPostgres server, SoakSize size)
    {
        var (runCount, workerCount, slots, restartCount, items, stepMs, itemMs, sleepMs, deadline, seed) = size;
        var schema = SchemaName.Parse("soak");
        await using var probe = NpgsqlDataSource.Create(server.ConnectionString);
        var clientBuilder = TrellisEngine.Create()
            .UsePostgres(server.ConnectionString, pg => (pg.Schema, pg.ReadEnvironment) = (schema.Name, false))
            .AddWorkflow(_ => new SoakWorkflow(null!))
            .Configure(o => o.ResultPollInterval = TimeSpan.FromMilliseconds(500));
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync();
        await BodyLog.CreateTableAsync(probe, schema);

        var chaos = new Chaos(server.ConnectionString, schema, output, seed, slots);
        try
        {
            for (var i = 0; i < workerCount; i++)
            {
                await chaos.StartWorkerAsync();
            }

            var inputs = Enumerable.Range(0, runCount).Select(i => new SoakInput(i, items, stepMs, itemMs, sleepMs, AwaitsEvent: true)).ToArray();
            var ids = await client.Client.StartManyAsync<SoakWorkflow>(inputs);
            using var stopPublishing = new CancellationTokenSource();
            var publishing = PublishEventsAsync(client.Client, runCount, seed, stopPublishing.Token);

            // Faults every 1-3 s until every run has finished; the restarts come at even shares of the work.
            var clock = Stopwatch.StartNew();
            var restartsAt = new Queue<int>(Enumerable.Range(1, restartCount).Select(k => runCount * k / (restartCount + 1)));
            long finished;
            while ((finished = await QueryAsync(probe, $"SELECT count(*) FROM {schema.Quoted}.runs WHERE completed_at IS NOT NULL", r => r.GetInt64(0))) < runCount)
            {
                Assert.True(clock.Elapsed < deadline, $"{finished} of {runCount} runs finished in {deadline}; {chaos}");
                await Task.Delay(chaos.NextPause());
                if (restartsAt.TryPeek(out var due) && finished >= due)
                {
                    restartsAt.Dequeue();
                    await chaos.RestartDatabaseAsync(server);
                }
                else
                {
                    await chaos.StrikeAsync(LeaseMs * 3);
                }
            }

            output.WriteLine($"all {runCount} runs finished in {clock.Elapsed.TotalSeconds:0.0} s; {chaos}");
            await stopPublishing.CancelAsync();
            output.WriteLine($"events published, counting calls retried after a fault: {await publishing}");
            Assert.Equal(restartCount, chaos.Restarts);
            Assert.True(chaos.Kills > 0 && chaos.Pauses > 0, $"the faults did not happen: {chaos}");

            // Every run completed with its own right output: none failed, for worker losses or anything else.
            var outcomes = await QueryAsync(
                probe,
                $"SELECT id, status, output #>> '{{}}', worker_losses FROM {schema.Quoted}.runs",
                r => (Id: r.GetString(0), Status: r.GetString(1), Output: r.IsDBNull(2) ? null : r.GetString(2), Losses: r.GetInt32(3)),
                many: true);
            var expected = ids.Select((id, i) => (id, SoakWorkflow.Expected(inputs[i]))).ToDictionary();
            Assert.Equal(runCount, outcomes.Count);
            Assert.All(outcomes, o => Assert.Equal(("completed", expected[o.Id]), (o.Status, o.Output)));
            output.WriteLine($"worker losses: {outcomes.Sum(o => o.Losses)} in all, at most {outcomes.Max(o => o.Losses)} for one run");
            // Each run's one wait received one event, and no event reached two waits.
            Assert.Equal(runCount, await QueryAsync(
                probe, $"SELECT count(*) FROM {schema.Quoted}.event_waits WHERE event_id IS NOT NULL", r => r.GetInt64(0)));
            Assert.Equal(0, await QueryAsync(
                probe,
                $"SELECT count(*) FROM (SELECT event_id FROM {schema.Quoted}.event_waits GROUP BY event_id HAVING count(*) > 1) twice",
                r => r.GetInt64(0)));
            if (sleepMs > 0)
            {
                // Each run slept once: one sleep row, ended, per run.
                var slept = await QueryAsync(
                    probe, $"SELECT count(*) FROM {schema.Quoted}.steps WHERE name = 'sleep' AND status = 'completed'", r => r.GetInt64(0));
                Assert.Equal(runCount, slept);
            }

            // No body started after the checkpoint of its step (or item) had committed.
            var late = await QueryAsync(
                probe,
                $"""
                SELECT b.run_id, b.step, b.item, b.worker, b.at, pg_xact_commit_timestamp(s.xmin)
                FROM {schema.Quoted}.body_log b
                JOIN {schema.Quoted}.steps s ON s.run_id = b.run_id AND s.name = b.step AND coalesce(s.item_index, -1) = coalesce(b.item, -1)
                WHERE s.status = 'completed' AND b.at > pg_xact_commit_timestamp(s.xmin)
                """,
                r => $"{r.GetString(0)} {r.GetString(1)}[{(r.IsDBNull(2) ? "" : r.GetInt32(2))}] on {r.GetString(3)} at {r.GetDateTime(4):HH:mm:ss.fff}, committed {r.GetDateTime(5):HH:mm:ss.fff}",
                many: true);
            Assert.True(late.Count == 0, $"{late.Count} bodies started after their checkpoint committed:\n{string.Join('\n', late.Take(20))}");
            Assert.Equal(0, await QueryAsync(
                probe, $"SELECT count(*) FROM {schema.Quoted}.steps WHERE status = 'completed' AND pg_xact_commit_timestamp(xmin) IS NULL", r => r.GetInt64(0)));
            var repeated = await QueryAsync(
                probe,
                $"SELECT count(*) FROM (SELECT 1 FROM {schema.Quoted}.body_log GROUP BY run_id, step, item HAVING count(DISTINCT at) > 1) x",
                r => r.GetInt64(0));
            output.WriteLine($"bodies that ran more than once (interrupted by a fault): {repeated} of {runCount * (items + 4)}");
        }
        finally
        {
            await chaos.DisposeAsync();
        }
    }

    /// <summary>
    /// Publishes each run's event once, in random order, 20 at a time every 200 ms, through the faults: a call that fails
    /// (the database restarting) is sent again, so an event may be stored twice, and a run must still receive one.
    /// </summary>
    private static async Task<int> PublishEventsAsync(TrellisClient client, int runCount, int seed, CancellationToken cancellationToken)
    {
        var order = Enumerable.Range(0, runCount).ToArray();
        new Random(seed).Shuffle(order);
        var calls = 0;
        foreach (var batch in order.Chunk(20))
        {
            var events = batch.Select(id => new EventToPublish("soak", SoakWorkflow.EventKey(id), SoakWorkflow.Bonus(id))).ToArray();
            while (true)
            {
                calls++;
                try
                {
                    await client.PublishEventsAsync(events, cancellationToken);
                    break;
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    await Task.Delay(200, cancellationToken);
                }
            }

            await Task.Delay(200, cancellationToken);
        }

        return calls;
    }

    /// <summary>How big the soak is: the defaults fit CI; <c>TRELLIS_SOAK_*</c> variables change them.</summary>
    private sealed record SoakSize(int Runs, int Workers, int Slots, int Restarts, int Items, int StepMs, int ItemMs, int SleepMs, TimeSpan Deadline, int Seed)
    {
        public static SoakSize FromEnvironment() => new(
            Runs: Setting("RUNS", 600),
            Workers: Setting("WORKERS", 3),
            Slots: Setting("SLOTS", 8),
            Restarts: Setting("RESTARTS", 1),
            Items: Setting("ITEMS", 20),
            StepMs: Setting("STEP_MS", 100),
            ItemMs: Setting("ITEM_MS", 50),
            SleepMs: Setting("SLEEP_MS", 1500),
            Deadline: TimeSpan.FromSeconds(Setting("SECONDS", 150)),
            Seed: Setting("SEED", Environment.TickCount & 0xFFFF));

        public override string ToString() =>
            $"{Runs} runs, {Workers} workers of {Slots} slots, {Restarts} restart(s), {Items} items, steps {StepMs} ms, items {ItemMs} ms, sleep {SleepMs} ms, seed {Seed}";

        private static int Setting(string name, int fallback) =>
            int.TryParse(Environment.GetEnvironmentVariable($"TRELLIS_SOAK_{name}"), CultureInfo.InvariantCulture, out var value) ? value : fallback;
    }

    /// <summary>A query that retries while the server restarts.</summary>
    private static Task<T> QueryAsync<T>(NpgsqlDataSource dataSource, string sql, Func<NpgsqlDataReader, T> read) =>
        RetryAsync(async () =>
        {
            await using var command = dataSource.CreateCommand(sql);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return read(reader);
        });

    private static Task<List<T>> QueryAsync<T>(NpgsqlDataSource dataSource, string sql, Func<NpgsqlDataReader, T> read, bool many) =>
        RetryAsync(async () =>
        {
            await using var command = dataSource.CreateCommand(sql);
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<T>();
            while (await reader.ReadAsync())
            {
                rows.Add(read(reader));
            }

            return rows;
        });

    private static async Task<T> RetryAsync<T>(Func<Task<T>> query)
    {
        for (var tries = 1; ; tries++)
        {
            try
            {
                return await query();
            }
            catch (NpgsqlException) when (tries < 100)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>The faults: worker processes killed and replaced, frozen and let go on, the database restarted.</summary>
    private sealed class Chaos(string connectionString, SchemaName schema, ITestOutputHelper output, int seed, int slots) : IAsyncDisposable
    {
        private readonly Random _random = new(seed);
        private readonly List<ChildWorker> _live = [];
        private readonly List<ChildWorker> _ended = [];
        private readonly List<Task> _pauses = [];
        private readonly HashSet<ChildWorker> _frozen = [];
        private int _started;

        public int Kills { get; private set; }
        public int Pauses { get; private set; }
        public int Restarts { get; private set; }

        public TimeSpan NextPause() => TimeSpan.FromMilliseconds(_random.Next(1000, 3000));

        public async Task StartWorkerAsync()
        {
            var worker = await ChildWorker.StartAsync(connectionString, schema, $"w{++_started}", output, leaseMs: LeaseMs, slots: slots);
            _live.Add(worker);
        }

        /// <summary>Kills a worker and starts another in its place (two times in three), or freezes one for a while.</summary>
        public async Task StrikeAsync(int pauseMs)
        {
            List<ChildWorker> candidates;
            bool anyFrozen;
            lock (_frozen)
            {
                candidates = _live.Where(w => !_frozen.Contains(w)).ToList();
                anyFrozen = _frozen.Count > 0;
            }

            if (candidates.Count == 0)
            {
                return;
            }

            // One worker frozen at a time; the others are killed meanwhile.
            var victim = candidates[_random.Next(candidates.Count)];
            if (_random.Next(3) < 2 || anyFrozen)
            {
                await victim.KillAsync();
                _live.Remove(victim);
                _ended.Add(victim);
                Kills++;
                await StartWorkerAsync();
                return;
            }

            victim.Pause();
            lock (_frozen)
            {
                _frozen.Add(victim);
            }

            Pauses++;
            _pauses.Add(Task.Run(async () =>
            {
                await Task.Delay(pauseMs);
                victim.Resume();
                lock (_frozen)
                {
                    _frozen.Remove(victim);
                }
            }));
        }

        public async Task RestartDatabaseAsync(EmbeddedPostgres server)
        {
            await server.RestartAsync(immediate: true);
            Restarts++;
        }

        public override string ToString() => $"{Kills} kills, {Pauses} pauses of {LeaseMs * 3} ms, {Restarts} restarts (seed {seed})";

        public async ValueTask DisposeAsync()
        {
            await Task.WhenAll(_pauses);
            foreach (var worker in _live.Concat(_ended))
            {
                await worker.DisposeAsync();
            }
        }
    }
}
