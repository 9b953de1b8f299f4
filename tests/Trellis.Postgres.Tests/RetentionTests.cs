using Microsoft.Extensions.Logging;

namespace Trellis.Postgres.Tests;

/// <summary>
/// Retention: finished runs older than their workflow's age are deleted, with their families and every row kept for
/// them, by the leader, in batches, while workers run; live runs and everything young stay exactly as they were. And
/// <see cref="TrellisClient.PurgeAsync"/>, the operator's same deletion at a given age.
/// </summary>
public sealed class RetentionTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private static readonly TimeSpan Month = TimeSpan.FromDays(30);

    /// <summary>Writes a step, a value and a stream, waits for a message, starts and awaits a child for inputs of 100 and up; fails for a negative input.</summary>
    private sealed class Recorded : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var doubled = await context.StepAsync("double", _ => Task.FromResult(input * 2));
            await context.SetValueAsync("v", doubled);
            await context.WriteStreamAsync("s", doubled);
            await context.CloseStreamAsync("s");
            var go = await context.ReceiveAsync<int>("go");
            if (input < 0)
            {
                throw new InvalidOperationException("negative");
            }

            if (input >= 100)
            {
                doubled += await await context.Child<Leaf>().StartAsync(input);
            }

            return doubled + go.Data;
        }
    }

    /// <summary>One step, and a value.</summary>
    private sealed class Leaf : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var result = await context.StepAsync("leaf", _ => Task.FromResult(input + 1));
            await context.SetValueAsync("leaf", result);
            return result;
        }
    }

    /// <summary>Another workflow of one step, for ages per workflow.</summary>
    private sealed class Other : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) => await context.StepAsync("other", _ => Task.FromResult(input));
    }

    /// <summary>Starts a child that waits for a message, and finishes without awaiting it.</summary>
    private sealed class Abandoning : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            await context.Child<Recorded>().StartAsync(input);
            return input;
        }
    }

    /// <summary>Holds its worker inside a step until the probe's gate opens.</summary>
    private sealed class Gated(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) =>
            await context.StepAsync("gate", async ct =>
            {
                probe.Hit("gated");
                await probe.Gate("gate").WaitAsync(ct);
                return input;
            });
    }

    /// <summary>Collects reports synchronously (<see cref="Progress{T}"/> would post them later, on the thread pool).</summary>
    private sealed class Reports : IProgress<long>
    {
        public List<long> Values { get; } = [];

        public void Report(long value)
        {
            lock (Values)
            {
                Values.Add(value);
            }
        }
    }

    private static readonly string[] RunTables = ["runs", "steps", "history", "event_waits", "run_values", "run_streams"];

    [Fact]
    public async Task Retention_DeletesExactlyTheOldFinishedFamilies_AndEveryRowOfThem_WhileWorkersRun()
    {
        var probe = new Probe();
        var queue = TestEngines.NewQueue();
        await using var worker = await Workers(queue, probe).StartAsync();
        var client = worker.Client;

        // Old: completed (one with a child), failed, cancelled. Young: completed. All will have messages and events.
        var old = new List<string>();
        foreach (var input in new[] { 1, 2, 100, -1 })
        {
            old.Add((await client.StartAsync<Recorded>(input)).RunId);
        }

        var cancelled = (await client.StartAsync<Recorded>(3)).RunId;
        old.Add(cancelled);
        var young = new List<string> { (await client.StartAsync<Recorded>(4)).RunId, (await client.StartAsync<Recorded>(101)).RunId };
        await WaitForStatusAsync(client, [.. old, .. young], RunStatus.Waiting);
        await client.CancelAsync(cancelled);
        foreach (var id in old.Concat(young).Where(id => id != cancelled))
        {
            await client.SendAsync(id, "go", 5);
        }

        await WaitFinishedAsync(client, [.. old, .. young]);
        var oldFamilies = await FamiliesAsync(old);
        var youngFamilies = await FamiliesAsync(young);
        Assert.Equal(old.Count + 1, oldFamilies.Length); // the child of 100
        Assert.Equal(young.Count + 1, youngFamilies.Length);
        await client.SendAsync(old[0], "late", 1); // a message nobody received: it goes with its run

        // Live runs, some created long ago: waiting (a parent of old age whose child still waits too), pending, running.
        var waiting = (await client.StartAsync<Recorded>(7)).RunId;
        var abandoning = (await client.StartAsync<Abandoning>(8)).RunId;
        await WaitFinishedAsync(client, [abandoning]);
        var abandoned = (await client.GetChildrenAsync(abandoning)).Single().Id;
        var pending = (await client.StartAsync<Leaf>(9, new StartOptions { ScheduledAt = DateTimeOffset.UtcNow.AddDays(1) })).RunId;
        var running = (await client.StartAsync<Gated>(10)).RunId;
        await probe.WaitForAsync("gated", 1);
        await WaitForStatusAsync(client, [waiting, abandoned], RunStatus.Waiting);
        string[] live = [waiting, abandoned, pending, running];
        await BackdateAsync([.. oldFamilies, abandoning, .. live], Month + TimeSpan.FromDays(10));

        var oldRows = await RowsPerTableAsync(oldFamilies);
        Assert.All(RunTables.Except(["event_waits"]), table => Assert.True(oldRows[table] > 0, $"old runs have no {table} rows"));
        Assert.True(await MessagesToAsync(oldFamilies) >= old.Count, "old runs have messages");
        var kept = youngFamilies.Concat([abandoning]).ToArray();
        var keptRows = await RowsPerTableAsync(kept);

        // New work keeps the worker busy while a second engine, the one with retention, deletes.
        var busy = await client.StartManyAsync<Leaf>(Enumerable.Range(0, 200).Cast<object?>());
        var retention = TestEngines.Builder(database, output, TestEngines.NewQueue()).AddWorkflow<Leaf>();
        retention.Options.Retention.DefaultAge = Month;
        retention.Options.Retention.BatchSize = 2;
        retention.Options.Retention.Interval = TimeSpan.FromMilliseconds(100);
        await using (var deleter = await retention.StartAsync())
        {
            await Eventually.HoldsAsync(async () => await CountAsync("runs", oldFamilies) == 0, "the old runs are deleted");
        }

        foreach (var table in RunTables)
        {
            Assert.Equal(0, await CountAsync(table, oldFamilies));
            Assert.Equal(keptRows[table], await CountAsync(table, kept));
        }

        Assert.Equal(0, await MessagesToAsync(oldFamilies));
        Assert.Equal(live.Length, await CountAsync("runs", live));
        Assert.Equal(RunStatus.Running, (await client.GetRunAsync(running))!.Status);

        probe.Open("gate");
        await WaitFinishedAsync(client, [.. busy, running]);
        Assert.All(await Task.WhenAll(busy.Select(id => client.GetRunAsync(id))), run => Assert.Equal(RunStatus.Completed, run!.Status));
        await client.SendAsync(waiting, "go", 1);
        Assert.Equal("15", (await client.WaitForOutcomeAsync(waiting, TimeSpan.FromSeconds(30))).OutputJson);
    }

    [Fact]
    public async Task Retention_AgePerWorkflow_OverridesTheDefault_AndAnEmptyAgeKeepsForever()
    {
        var probe = new Probe();
        probe.Open("gate");
        await using var worker = await Workers(TestEngines.NewQueue(), probe).StartAsync();
        var leaf10 = await StartFinishedAsync<Leaf>(worker, 2, TimeSpan.FromDays(10)); // Leaf: 7 days
        var leaf5 = await StartFinishedAsync<Leaf>(worker, 2, TimeSpan.FromDays(5));
        var other10 = await StartFinishedAsync<Other>(worker, 2, TimeSpan.FromDays(10)); // Other: the default, 30 days
        var other40 = await StartFinishedAsync<Other>(worker, 2, TimeSpan.FromDays(40));
        var gated400 = await StartFinishedAsync<Gated>(worker, 2, TimeSpan.FromDays(400)); // Gated: kept forever

        var builder = TestEngines.Builder(database, output, TestEngines.NewQueue()).AddWorkflow<Leaf>();
        builder.Options.Retention.DefaultAge = Month;
        builder.Options.Retention.PerWorkflow["Leaf"] = TimeSpan.FromDays(7);
        builder.Options.Retention.PerWorkflow["Gated"] = null;
        builder.Options.Retention.Interval = TimeSpan.FromMilliseconds(100);
        await using (await builder.StartAsync())
        {
            await Eventually.HoldsAsync(async () => await CountAsync("runs", [.. leaf10, .. other40]) == 0, "the old Leaf and Other runs are deleted");
        }

        Assert.Equal(6, await CountAsync("runs", [.. leaf5, .. other10, .. gated400]));
    }

    [Fact]
    public async Task Retention_HonoursTheEnginesClock_RunsFinishedNowGoOnceItIsAMonthAhead()
    {
        var clock = new PausableClock();
        var builder = Workers(TestEngines.NewQueue(), new Probe()).UseTimeProvider(clock);
        builder.Options.Retention.DefaultAge = Month;
        builder.Options.Retention.Interval = TimeSpan.FromMilliseconds(100);
        await using var engine = await builder.StartAsync();
        var finished = await StartFinishedAsync<Leaf>(engine, 5, TimeSpan.Zero);
        var waiting = (await engine.Client.StartAsync<Recorded>(1)).RunId;
        await WaitForStatusAsync(engine.Client, [waiting], RunStatus.Waiting);
        await Task.Delay(500); // a few rounds, which find nothing old
        Assert.Equal(5, await CountAsync("runs", finished));

        clock.Pause(Month + TimeSpan.FromDays(1));

        await Eventually.HoldsAsync(async () => await CountAsync("runs", finished) == 0, "the runs finished a month ago, by the engine's clock, are deleted");
        Assert.Equal(RunStatus.Waiting, (await engine.Client.GetRunAsync(waiting))!.Status);
    }

    [Fact]
    public async Task Retention_OnTwoEnginesAtOnce_OnlyTheLeaderDeletes_AndNothingFails()
    {
        var worker = await Workers(TestEngines.NewQueue(), new Probe()).StartAsync();
        string[] old;
        await using (worker)
        {
            old = await StartFinishedAsync<Leaf>(worker, 40, TimeSpan.FromDays(40));
        }

        var logs = new[] { new LoggedEvents(), new LoggedEvents() };
        var engines = new List<TrellisEngine>();
        foreach (var log in logs)
        {
            var builder = TestEngines.Builder(database, output, TestEngines.NewQueue()).AddWorkflow<Leaf>().UseLoggerFactory(LoggerFactory.Create(b => b.AddProvider(log)));
            builder.Options.Retention.DefaultAge = Month;
            builder.Options.Retention.BatchSize = 3;
            builder.Options.Retention.Interval = TimeSpan.FromMilliseconds(50);
            engines.Add(await builder.StartAsync());
        }

        await Eventually.HoldsAsync(async () => await CountAsync("runs", old) == 0, "the old runs are deleted");
        foreach (var engine in engines)
        {
            await engine.DisposeAsync();
        }

        Assert.Equal(0, logs.Sum(l => l.Count(1014))); // no maintenance failed
        Assert.Equal(1, logs.Count(l => l.Count(1070) > 0)); // one deleter: the leader
    }

    [Fact]
    public async Task PurgeAsync_ReturnsTheRunsDeleted_ChildrenIncluded_ReportsProgress_AndTwoAtOnceCountEachRunOnce()
    {
        await using var worker = await Workers(TestEngines.NewQueue(), new Probe()).StartAsync();
        await worker.Client.PurgeAsync(TimeSpan.FromTicks(10)); // what the class's earlier tests finished: the counts below are this test's
        var leaves = await StartFinishedAsync<Leaf>(worker, 30, TimeSpan.FromDays(3));
        var others = await StartFinishedAsync<Other>(worker, 5, TimeSpan.FromDays(3));
        var youngOthers = await StartFinishedAsync<Other>(worker, 3, TimeSpan.FromHours(1));
        var withChild = (await worker.Client.StartAsync<Recorded>(100)).RunId;
        await WaitForStatusAsync(worker.Client, [withChild], RunStatus.Waiting);
        await worker.Client.SendAsync(withChild, "go", 1);
        await WaitFinishedAsync(worker.Client, [withChild]);
        var family = await FamiliesAsync([withChild]);
        await BackdateAsync(family, TimeSpan.FromDays(3));

        var reports = new Reports();
        Assert.Equal(5, await worker.Client.PurgeAsync(TimeSpan.FromDays(2), "Other", reports));
        Assert.Equal([5L], reports.Values);
        Assert.Equal(3, await CountAsync("runs", youngOthers));

        worker.Options.Retention.BatchSize = 4;
        var progress = new Reports();
        var purges = await Task.WhenAll(worker.Client.PurgeAsync(TimeSpan.FromDays(2), progress: progress), worker.Client.PurgeAsync(TimeSpan.FromDays(2)));
        Assert.Equal(leaves.Length + family.Length, purges.Sum());
        Assert.Equal(0, await CountAsync("runs", [.. leaves, .. family]));
        Assert.Equal(3, await CountAsync("runs", youngOthers));
        Assert.Equal(progress.Values.Order(), progress.Values);
        Assert.Equal(purges[0], progress.Values.LastOrDefault());
        Assert.Equal(0, await worker.Client.PurgeAsync(TimeSpan.FromDays(2)));
    }

    [Fact]
    public async Task PurgeAsync_ZeroOrNegativeAge_OrBlankWorkflow_IsRefused_AndDeletesNothing()
    {
        await using var worker = await Workers(TestEngines.NewQueue(), new Probe()).StartAsync();
        var old = await StartFinishedAsync<Leaf>(worker, 2, TimeSpan.FromDays(3));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => worker.Client.PurgeAsync(TimeSpan.Zero));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => worker.Client.PurgeAsync(TimeSpan.FromDays(-1)));
        await Assert.ThrowsAsync<ArgumentException>(() => worker.Client.PurgeAsync(TimeSpan.FromDays(1), " "));
        Assert.Equal(2, await CountAsync("runs", old));

        var options = new TrellisOptions();
        options.Retention.DefaultAge = TimeSpan.FromDays(-1);
        Assert.Contains("Retention.DefaultAge", Assert.Throws<ArgumentException>(options.Validate).Message);
        options.Retention.DefaultAge = null;
        options.Retention.PerWorkflow["Leaf"] = TimeSpan.Zero;
        Assert.Contains("PerWorkflow['Leaf']", Assert.Throws<ArgumentException>(options.Validate).Message);
        options.Retention.PerWorkflow.Clear();
        options.Retention.BatchSize = 0;
        Assert.Contains("Retention.BatchSize", Assert.Throws<ArgumentException>(options.Validate).Message);
    }

    [Fact]
    public async Task PurgeAsync_DeletesTheEventsItsRunsReceived_UnlessALiveRunCreatedBeforeOneCanStillReceiveIt()
    {
        await using var worker = await Workers(TestEngines.NewQueue(), new Probe()).StartAsync();
        var receiverA = (await worker.Client.StartAsync<EventReceiver>("a")).RunId;
        var receiverB = (await worker.Client.StartAsync<EventReceiver>("b")).RunId;
        var live = (await worker.Client.StartAsync<EventReceiver>("never")).RunId;
        await WaitForStatusAsync(worker.Client, [receiverA, receiverB, live], RunStatus.Waiting);
        await worker.Client.PublishEventAsync("order", "a", 1);
        await worker.Client.PublishEventAsync("order", "b", 2);
        await WaitFinishedAsync(worker.Client, [receiverA, receiverB]);
        await BackdateAsync([receiverA, receiverB], TimeSpan.FromDays(5));
        // Event a was published before the live run was created, event b after: the live run could still wait for b.
        await database.ScalarAsync<int>("UPDATE {schema}.events SET published_at = now() - interval '4 days' WHERE name = 'order' AND key = 'a'");
        await database.ScalarAsync<int>("UPDATE {schema}.events SET published_at = now() - interval '2 days' WHERE name = 'order' AND key = 'b'");
        await database.ScalarAsync<int>("UPDATE {schema}.runs SET created_at = now() - interval '3 days' WHERE id = $1", live);

        Assert.Equal(2, await worker.Client.PurgeAsync(TimeSpan.FromDays(1), "EventReceiver"));

        Assert.Equal(["b"], (await database.RowsAsync("SELECT key FROM {schema}.events WHERE name = 'order'")).Select(row => (string)row[0]!));
        Assert.Equal(1, await CountAsync("runs", [live]));
    }

    /// <summary>Waits for the event "order" keyed by its input.</summary>
    private sealed class EventReceiver : Workflow<string, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, string input) => (await context.WaitForEventAsync<int>("order", input)).Data;
    }

    private TrellisBuilder Workers(string queue, Probe probe) =>
        TestEngines.Builder(database, output, queue)
            .AddWorkflow<Recorded>().AddWorkflow<Leaf>().AddWorkflow<Other>().AddWorkflow<Abandoning>().AddWorkflow<EventReceiver>()
            .AddWorkflow(_ => new Gated(probe));

    private async Task<string[]> StartFinishedAsync<TWorkflow>(TrellisEngine engine, int count, TimeSpan finishedAgo)
        where TWorkflow : IWorkflow
    {
        var ids = (await engine.Client.StartManyAsync<TWorkflow>(Enumerable.Range(0, count).Cast<object?>())).ToArray();
        await WaitFinishedAsync(engine.Client, ids);
        await BackdateAsync(ids, finishedAgo);
        return ids;
    }

    private static async Task WaitFinishedAsync(TrellisClient client, string[] ids)
    {
        foreach (var id in ids)
        {
            await Eventually.HoldsAsync(async () => (await client.GetRunAsync(id))!.Status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled, $"run {id} finishes");
        }
    }

    private static async Task WaitForStatusAsync(TrellisClient client, string[] ids, RunStatus status)
    {
        foreach (var id in ids)
        {
            await Eventually.HoldsAsync(async () => (await client.GetRunAsync(id))!.Status == status, $"run {id} is {status}");
        }
    }

    /// <summary>The runs and their children, grandchildren included.</summary>
    private async Task<string[]> FamiliesAsync(IEnumerable<string> roots) =>
        [.. (await database.RowsAsync("""
            WITH RECURSIVE f (id) AS (SELECT unnest($1::text[]) COLLATE "C" UNION ALL SELECT r.id FROM {schema}.runs r JOIN f ON r.parent_id = f.id)
            SELECT id FROM f
            """, (object)roots.ToArray())).Select(row => (string)row[0]!)];

    /// <summary>Moves the runs' times back: finished (if they are) and created that long ago.</summary>
    private Task<int> BackdateAsync(string[] ids, TimeSpan ago) =>
        database.ScalarAsync<int>(
            "UPDATE {schema}.runs SET completed_at = completed_at - $2, created_at = created_at - $2 WHERE id = ANY($1)", ids, ago);

    private Task<long> CountAsync(string table, string[] ids) =>
        database.ScalarAsync<long>($"SELECT count(*) FROM {{schema}}.{table} WHERE run_id = ANY($1)".Replace("run_id", table == "runs" ? "id" : "run_id", StringComparison.Ordinal), (object)ids);

    private async Task<Dictionary<string, long>> RowsPerTableAsync(string[] ids)
    {
        var rows = new Dictionary<string, long>();
        foreach (var table in RunTables)
        {
            rows[table] = await CountAsync(table, ids);
        }

        return rows;
    }

    private Task<long> MessagesToAsync(string[] ids) =>
        database.ScalarAsync<long>("SELECT count(*) FROM {schema}.events WHERE starts_with(name, 'message:') AND key = ANY($1)", (object)ids);
}
