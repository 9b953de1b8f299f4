namespace Trellis.Postgres.Tests;

/// <summary>
/// <see cref="WorkerOptions.MaxConcurrentRuns"/> is a hard limit, also when starts in this process (handed straight
/// to the worker) take its free slots while one of its claims is in flight.
/// </summary>
public sealed class SlotLimitTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>Counts the runs executing at once and holds them until <see cref="Open"/>.</summary>
    private sealed class Occupancy
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();
        private int _now;

        public int Started { get; private set; }

        public int MostAtOnce { get; private set; }

        public int Now
        {
            get
            {
                lock (_lock)
                {
                    return _now;
                }
            }
        }

        public async Task HoldAsync()
        {
            lock (_lock)
            {
                Started++;
                MostAtOnce = Math.Max(MostAtOnce, ++_now);
            }

            try
            {
                await _open.Task;
            }
            finally
            {
                lock (_lock)
                {
                    _now--;
                }
            }
        }

        public void Open() => _open.TrySetResult();
    }

    private sealed class Occupying(Occupancy occupancy) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            await occupancy.HoldAsync();
            return input;
        }
    }

    [Theory]
    [InlineData(0)] // claimed under a lease: the runs given back are written back to pending
    [InlineData(50)] // claimed in a window: the runs given back are left pending, nothing written
    public async Task LocalStartsDuringAClaim_TakeTheFreeSlots_ClaimedRunsGoBackUnstartedAndUncharged(int claimWindowMs)
    {
        var queue = $"q{Guid.NewGuid():N}"[..12];
        var occupancy = new Occupancy();
        HeldClaimsStore? claims = null;
        var builder = TestEngines.Builder(database, output, queue)
            .AddWorkflow(_ => new Occupying(occupancy))
            .UseStore(
                context =>
                {
                    var options = new PostgresStoreOptions { ConnectionString = database.ConnectionString, Schema = database.Schema.Name, ReadEnvironment = false };
                    (var store, claims) = HeldClaimsStore.Wrap(new PostgresStore(options, context.LoggerFactory));
                    return store;
                },
                PostgresStore.IsTransient)
            .ConfigureWorker(w => (w.MaxConcurrentRuns, w.ClaimBatchSize, w.ClaimWindow) = (2, 2, TimeSpan.FromMilliseconds(claimWindowMs)));
        await using var engine = await builder.StartAsync();
        var producerBuilder = TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Occupying(occupancy));
        producerBuilder.Options.Worker.Enabled = false;
        await using var producer = await producerBuilder.StartAsync();

        try
        {
            // A claim of the worker is in flight: it has taken both slots for the runs it may find.
            claims!.Hold();
            await claims.Holding.WaitAsync(TimeSpan.FromSeconds(30));

            // Meanwhile two starts here find both slots free of runs and the queue empty: their runs go straight to the
            // worker. Then another process queues two runs, which the claim finds when it reaches the store.
            var local = new[] { await engine.Client.StartAsync<Occupying>(3), await engine.Client.StartAsync<Occupying>(4) };
            await Eventually.HoldsAsync(() => occupancy.Now == 2, "the two local runs execute");
            var queued = new[] { await producer.Client.StartAsync<Occupying>(1), await producer.Client.StartAsync<Occupying>(2) };
            var queuedIds = queued.Select(r => r.RunId).ToArray();
            const string PlaceInQueue = "SELECT string_agg(id || '@' || scheduled_at::text, ',' ORDER BY id) FROM {schema}.runs WHERE id = ANY($1)";
            var placeBefore = await database.ScalarAsync<string>(PlaceInQueue, (object)queuedIds);
            Assert.Equal(2, await database.ScalarAsync<long>(
                "SELECT count(*) FROM {schema}.runs WHERE id = ANY($1) AND started_at = created_at", (object)local.Select(r => r.RunId).ToArray()));

            // The claim comes back with both and no slot left for them: they go back to the queue, unstarted, unlocked,
            // their attempt not charged.
            claims.Release();
            await claims.Answered.WaitAsync(TimeSpan.FromSeconds(30));
            await Eventually.HoldsAsync(
                async () => await database.ScalarAsync<long>(
                    """
                    SELECT count(*) FROM (
                        SELECT id FROM {schema}.runs
                        WHERE id = ANY($1) AND status = 'pending' AND attempt = 0 AND locked_by IS NULL
                        FOR UPDATE SKIP LOCKED) ready
                    """,
                    (object)queuedIds) == 2,
                "both claimed runs are ready again");
            Assert.Equal(2, occupancy.Started);
            Assert.Equal(2, occupancy.MostAtOnce);
            Assert.Equal(placeBefore, await database.ScalarAsync<string>(PlaceInQueue, (object)queuedIds)); // not sent to the back

            // Once the slots free up, the worker runs them as their first attempt.
            occupancy.Open();
            var results = new List<int>();
            foreach (var run in local.Concat(queued))
            {
                results.Add(await run.GetResultAsync(TimeSpan.FromSeconds(30)));
            }

            Assert.Equal([3, 4, 1, 2], results);

            Assert.Equal(4, occupancy.Started);
            Assert.Equal(2, occupancy.MostAtOnce);
            Assert.Equal(2, await database.ScalarAsync<long>(
                "SELECT count(*) FROM {schema}.runs WHERE id = ANY($1) AND status = 'completed' AND attempt = 1", (object)queuedIds));
        }
        finally
        {
            // Whatever failed above, nothing may stay held: the engines' disposal waits for the claim and the runs.
            claims!.Release();
            occupancy.Open();
        }
    }
}
