namespace Trellis.Postgres.Tests;

public sealed class RunLifecycleTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class Echo(Probe probe) : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) =>
            context.StepAsync("echo", _ =>
            {
                probe.Hit(input);
                return Task.FromResult(input);
            });
    }

    [Workflow("Echo")]
    private sealed class OtherEcho : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    private sealed class Other : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => Task.FromResult(input);
    }

    [Fact]
    public async Task StartAsync_SameRunIdTwice_ReturnsTheExistingRunAndCreatesNoSecond()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(probe)).StartAsync();
        var id = $"order-{Guid.NewGuid():N}";

        var first = await engine.Client.StartAsync<Echo>("first", new StartOptions { RunId = id });
        var second = await engine.Client.StartAsync<Echo>("second", new StartOptions { RunId = id });

        Assert.Equal(id, first.RunId);
        Assert.Equal(id, second.RunId);
        Assert.Equal("first", await second.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE id = $1", id));
        Assert.Equal(1, probe.Count("first"));
        Assert.Equal(0, probe.Count("second"));
    }

    [Fact]
    public async Task StartManyAsync_ManyInputs_CreatesOneRunEachInOneCallAndAllComplete()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(probe)).StartAsync();
        var inputs = Enumerable.Range(0, 50).Select(i => $"bulk-{i}").ToList();

        var ids = await engine.Client.StartManyAsync<Echo>(inputs, new StartOptions { Tags = new Dictionary<string, string> { ["batch"] = "bulk" } });

        Assert.Equal(50, ids.Distinct().Count());
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(inputs[i], await engine.Client.GetHandle<Echo>(ids[i]).GetResultAsync(TimeSpan.FromSeconds(30)));
        }

        Assert.All(inputs, input => Assert.Equal(1, probe.Count(input)));
        var tagged = await engine.Client.ListRunsAsync(new RunQuery { Tag = new("batch", "bulk") });
        Assert.Equal(50, tagged.Runs.Count);
    }

    [Fact]
    public async Task StartManyAsync_OneBadInputOrARunId_ThrowsAndStoresNothing()
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(new Probe()));
        builder.Options.Worker.Enabled = false;
        builder.Options.MaxInputBytes = 100;
        await using var engine = await builder.StartAsync();
        var before = await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs");

        await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartManyAsync<Echo>(["fine", 42, "also fine"]));
        await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartManyAsync<Echo>(["fine", new string('x', 500)]));
        await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.StartManyAsync<Echo>(["fine"], new StartOptions { RunId = "one-id-for-many" }));

        Assert.Equal(before, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs"));
        Assert.Empty(await engine.Client.StartManyAsync<Echo>([]));
    }

    [Fact]
    public async Task EngineStart_WarmsUpTheStartPath_WritesNoRunAndWakesNoWorker()
    {
        await (await TestEngines.Builder(database, output).StartAsync()).DisposeAsync(); // the schema exists
        await using var listener = await database.DataSource.OpenConnectionAsync();
        var notifications = new List<string>();
        listener.Notification += (_, e) => notifications.Add(e.Payload);
        await using (var listen = new Npgsql.NpgsqlCommand($"LISTEN \"{database.Schema.Name}.events\"", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        var before = await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs");
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(new Probe()));
        builder.Options.Worker.Enabled = false;
        await using var engine = await builder.StartAsync();
        await using (var roundTrip = new Npgsql.NpgsqlCommand("SELECT 1", listener))
        {
            await roundTrip.ExecuteNonQueryAsync(); // delivers any notification already sent
        }

        Assert.Equal(before, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs"));
        Assert.Empty(notifications);
        var id = (await engine.Client.StartManyAsync<Echo>(["after warm-up"])).Single();
        Assert.Equal(RunStatus.Pending, (await engine.Client.GetHandle<Echo>(id).GetAsync()).Status);
    }

    [Fact]
    public async Task EngineStart_MigrateOnStartOffAndSchemaMissing_StillStarts()
    {
        var schema = $"t_{Guid.NewGuid():N}"[..14];
        var builder = TrellisEngine.Create()
            .UsePostgres(database.ConnectionString, pg =>
            {
                pg.Schema = schema;
                pg.ReadEnvironment = false;
            })
            .Configure(o => o.MigrateOnStart = false)
            .ConfigureWorker(w => w.Enabled = false)
            .AddWorkflow(_ => new Echo(new Probe()));

        await using var engine = await builder.StartAsync();

        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema));
    }

    [Fact]
    public async Task StartAsync_SameRunIdFromManyCallersAtOnce_CreatesOneRunThatRunsOnce()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(probe)).StartAsync();
        var id = $"together-{Guid.NewGuid():N}";

        var handles = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => engine.Client.StartAsync<Echo>($"caller {i}", new StartOptions { RunId = id })));

        Assert.All(handles, h => Assert.Equal(id, h.RunId));
        var result = await handles[0].GetResultAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE id = $1", id));
        Assert.Equal(1, probe.Count(result));
        Assert.Equal(1, Enumerable.Range(0, 20).Sum(i => probe.Count($"caller {i}")));
    }

    [Fact]
    public async Task StartAsync_WorkerInThisProcessHasAFreeSlot_RunIsCreatedAlreadyClaimedByIt()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new TwoGatedSteps(probe)).StartAsync();

        var run = await engine.Client.StartAsync<TwoGatedSteps>(0);

        // Claimed in the statement that created it: same timestamp, an epoch, this worker.
        var row = Assert.Single(await database.RowsAsync("SELECT status, locked_by, epoch, started_at = created_at FROM {schema}.runs WHERE id = $1", run.RunId));
        Assert.Equal(("running", engine.Worker!.WorkerId, true), ((string)row[0]!, (string)row[1]!, (bool)row[3]!));
        var epoch = (long)row[2]!;
        Assert.True(epoch > 0);
        probe.Open("first");
        Assert.Equal(2, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        // The worker wrote under the epoch the start handed it: its checkpoints and outcome were accepted.
        Assert.Equal((epoch, 1), ((await run.GetAsync()).Epoch, (await run.GetAsync()).Attempt));
        Assert.All(await run.GetStepsAsync(), s => Assert.Equal(epoch, s.Epoch));
    }

    [Fact]
    public async Task StartAsync_NextRunStartedOnThePreviousResult_FindsTheSlotFreeAndSkipsTheQueue()
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(new Probe()));
        builder.Options.Worker.MaxConcurrentRuns = 1;
        await using var engine = await builder.StartAsync();

        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var run = await engine.Client.StartAsync<Echo>($"next-{i}");
            Assert.Equal($"next-{i}", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
            ids.Add(run.RunId);
        }

        // The slot is free once the previous outcome is durable, before its caller hears of it, so every
        // run was created already claimed by this worker (same timestamp) rather than claimed from the queue.
        Assert.Equal(20, await database.ScalarAsync<long>(
            "SELECT count(*) FROM {schema}.runs WHERE id = ANY($1) AND started_at = created_at AND status = 'completed'", (object)ids.ToArray()));
    }

    [Workflow("Blocker")]
    private sealed class Blocker : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => Task.FromResult(input);
    }

    [Fact]
    public async Task StartAsync_ReadyRunsWaitInTheQueue_NewRunDoesNotOvertakeThemThroughTheLocalWorker()
    {
        var queue = $"q{Guid.NewGuid():N}"[..12];
        var clientBuilder = TestEngines.Builder(database, output, queue).AddWorkflow<Blocker>();
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync();
        await client.Client.StartAsync<Blocker>(1); // ready work that no worker here can run
        await using var engine = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Echo(new Probe())).StartAsync();

        var run = await engine.Client.StartAsync<Echo>("waits its turn");

        Assert.Equal("waits its turn", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.False(await database.ScalarAsync<bool>("SELECT started_at = created_at FROM {schema}.runs WHERE id = $1", run.RunId));
    }

    [Fact]
    public async Task StartAsync_RunIdTakenByAnotherWorkflow_ThrowsConflict()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(new Probe())).AddWorkflow<Other>().StartAsync();
        var id = $"shared-{Guid.NewGuid():N}";
        await engine.Client.StartAsync<Echo>("x", new StartOptions { RunId = id });

        var conflict = await Assert.ThrowsAsync<RunConflictException>(() => engine.Client.StartAsync<Other>("y", new StartOptions { RunId = id }));
        Assert.Equal("Echo", conflict.ExistingWorkflow);
    }

    [Fact]
    public async Task CancelAsync_PendingRun_IsCancelledAtOnce()
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(new Probe()));
        builder.Options.Worker.Enabled = false;
        await using var client = await builder.StartAsync();

        var run = await client.Client.StartAsync<Echo>("never");
        var cancelled = await run.CancelAsync();

        Assert.Equal(RunStatus.Cancelled, cancelled.Status);
        Assert.True(cancelled.CancelRequested);
        Assert.NotNull(cancelled.CompletedAt);
        await Assert.ThrowsAsync<RunCancelledException>(() => run.GetResultAsync(TimeSpan.FromSeconds(5)));
    }

    /// <param name="contexts">Receives each execution's context, for a test to watch what the workflow sees.</param>
    private sealed class TwoGatedSteps(Probe probe, Action<WorkflowContext>? contexts = null) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            contexts?.Invoke(context);
            await context.StepAsync("first", async _ =>
            {
                probe.Hit("first");
                await probe.Gate("first");
                return 1;
            });
            return await context.StepAsync("second", _ =>
            {
                probe.Hit("second");
                return Task.FromResult(2);
            });
        }
    }

    [Fact]
    public async Task CancelAsync_RunningRun_StopsWithoutWaitingForTheStepAndEndsCancelled()
    {
        var probe = new Probe();
        WorkflowContext? seen = null;
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new TwoGatedSteps(probe, c => seen = c)).StartAsync();

        var run = await engine.Client.StartAsync<TwoGatedSteps>(0);
        await probe.WaitForAsync("first", 1);
        Assert.False(seen!.IsCancellationRequested);
        var requested = await run.CancelAsync();
        Assert.Equal(RunStatus.Running, requested.Status);
        Assert.True(requested.CancelRequested);

        // The step's body waits on a gate and ignores its token: the run ends cancelled without it.
        await Assert.ThrowsAsync<RunCancelledException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.True(seen.IsCancellationRequested);
        Assert.True(seen.CancellationToken.IsCancellationRequested);
        Assert.Equal(RunStatus.Cancelled, (await run.GetAsync()).Status);
        probe.Open("first");
        Assert.Equal(0, probe.Count("second"));
        Assert.Empty(await run.GetStepsAsync());
    }

    [Fact]
    public async Task CancelAsync_UnknownRun_ThrowsNotFound()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<Other>().StartAsync();
        await Assert.ThrowsAsync<RunNotFoundException>(() => engine.Client.CancelAsync("no-such-run"));
    }

    [Fact]
    public async Task GetResultAsync_RunNotFinishedInTime_ThrowsTimeout()
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(new Probe()));
        builder.Options.Worker.Enabled = false;
        await using var client = await builder.StartAsync();
        var run = await client.Client.StartAsync<Echo>("waits");

        await Assert.ThrowsAsync<TimeoutException>(() => run.GetResultAsync(TimeSpan.FromMilliseconds(300)));
        await Assert.ThrowsAsync<RunNotFoundException>(() => client.Client.GetHandle("missing").WaitAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task GetResultAsync_RunFinishedByWorkerInAnotherEngine_IsWokenByNotificationNotByPolling()
    {
        var queue = $"q{Guid.NewGuid():N}"[..12];
        var clientBuilder = TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Echo(new Probe()));
        clientBuilder.Options.Worker.Enabled = false;
        clientBuilder.Options.ResultPollInterval = TimeSpan.FromMinutes(5);
        await using var client = await clientBuilder.StartAsync();
        await using var worker = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Echo(new Probe())).StartAsync();

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var run = await client.Client.StartAsync<Echo>("over the wire");
        Assert.Equal("over the wire", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}, as if it had waited for the 5-minute poll");
    }

    [Fact]
    public async Task StartAsync_ScheduledInTheFuture_DoesNotStartBeforeItsTime()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(probe)).CountingClaims(database, out var claims).StartAsync();

        var at = DateTimeOffset.UtcNow.AddSeconds(3);
        var run = await engine.Client.StartAsync<Echo>("later", new StartOptions { ScheduledAt = at });
        await claims.NextAnsweredAsync(); // a claim that could have seen the run passed it over
        Assert.Equal(RunStatus.Pending, (await run.GetAsync()).Status);

        Assert.Equal("later", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        var info = await run.GetAsync();
        Assert.True(info.StartedAt >= at.AddMilliseconds(-50), $"started {info.StartedAt:O}, scheduled {at:O}");
    }

    [Fact]
    public async Task StartAsync_WithDelay_IsScheduledOnTheDatabaseClock()
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new Echo(new Probe()));
        builder.Options.Worker.Enabled = false;
        await using var client = await builder.StartAsync();

        var run = await client.Client.StartAsync<Echo>("delayed", new StartOptions { Delay = TimeSpan.FromMinutes(10) });

        var info = await run.GetAsync();
        Assert.Equal(RunStatus.Pending, info.Status);
        Assert.InRange(info.ScheduledAt - info.CreatedAt, TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<ArgumentException>(() => client.Client.StartAsync<Echo>("x", new StartOptions { Delay = TimeSpan.FromSeconds(-1) }));
    }

    [Fact]
    public async Task Claim_HigherPriority_RunsFirst()
    {
        var probe = new Probe();
        var queue = $"q{Guid.NewGuid():N}"[..12];
        var clientBuilder = TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Echo(probe));
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync();
        var runs = new List<RunHandle<Echo>>();
        foreach (var (name, priority) in new[] { ("low-1", 0), ("low-2", 0), ("high-1", 10), ("mid-1", 5), ("high-2", 10) })
        {
            runs.Add(await client.Client.StartAsync<Echo>(name, new StartOptions { Priority = priority }));
        }

        await using var worker = await TestEngines.Builder(database, output, queue)
            .AddWorkflow(_ => new Echo(probe))
            .ConfigureWorker(w => (w.MaxConcurrentRuns, w.ClaimBatchSize) = (1, 1))
            .StartAsync();
        foreach (var run in runs)
        {
            await run.GetResultAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Equal(["high-1", "high-2", "mid-1", "low-1", "low-2"], probe.Order);
    }

    [Fact]
    public async Task StopAsync_RunStillInFlightAtShutdownTimeout_IsReleasedAndFinishedByNextWorker()
    {
        var probe = new Probe();
        var queue = $"q{Guid.NewGuid():N}"[..12];
        var clientBuilder = TestEngines.Builder(database, output, queue).AddWorkflow(_ => new TwoGatedSteps(probe));
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync();
        var first = await TestEngines.Builder(database, output, queue)
            .AddWorkflow(_ => new TwoGatedSteps(probe))
            .ConfigureWorker(w => w.ShutdownTimeout = TimeSpan.FromMilliseconds(300))
            .StartAsync();
        var run = await client.Client.StartAsync<TwoGatedSteps>(0);
        await probe.WaitForAsync("first", 1);

        await first.DisposeAsync();
        var released = await run.GetAsync();
        Assert.Equal(RunStatus.Pending, released.Status);
        Assert.Equal((0, 0), (released.Attempt, released.WorkerLosses)); // a release charges neither an attempt nor a worker loss
        Assert.Null(released.LockedBy);

        probe.Open("first");
        await using var second = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new TwoGatedSteps(probe)).StartAsync();
        Assert.Equal(2, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, (await run.GetAsync()).Attempt);
    }
}
