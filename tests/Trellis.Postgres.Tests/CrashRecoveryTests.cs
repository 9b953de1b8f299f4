using Trellis.TestWorker;

namespace Trellis.Postgres.Tests;

/// <summary>A worker process is killed with SIGKILL in the middle of a run; another worker finishes it.</summary>
public sealed class CrashRecoveryTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private TrellisEngine _client = null!;

    public async Task InitializeAsync()
    {
        var builder = TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new SequentialSteps(null!)).AddWorkflow(_ => new PerItemSteps(null!))
            .AddWorkflow(_ => new FanOutParent(null!)).AddWorkflow(_ => new SquareChild(null!));
        builder.Options.Worker.Enabled = false;
        _client = await builder.StartAsync();
        await BodyLog.CreateTableAsync(database.DataSource, database.Schema);
    }

    public async Task DisposeAsync() => await _client.DisposeAsync();

    private Task<TrellisEngine> StartSurvivorAsync()
    {
        var log = new BodyLog(database.DataSource, database.Schema, "survivor");
        return TestEngines.Builder(database, output, queue: "default")
            .AddWorkflow(_ => new SequentialSteps(log))
            .AddWorkflow(_ => new PerItemSteps(log))
            .AddWorkflow(_ => new FanOutParent(log))
            .AddWorkflow(_ => new SquareChild(log))
            .StartAsync();
    }

    [Fact]
    public async Task AParentKilledAfterStartingAHundredChildren_StartsNoneTwice_AndGetsAllTheirResults()
    {
        await using var victim = await ChildWorker.StartAsync(database, "victim", output);
        var run = await _client.Client.StartAsync<FanOutParent>(new FanOutInput(Children: 100, ChildMs: 20));
        // The victim holds the parent in the step after the start, and every child it took in its step.
        await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "after start", "start", "victim") == 1, "the victim holds the parent after the start");
        await Eventually.HoldsAsync(async () => await database.ScalarAsync<long>(
            "SELECT count(*) FROM {schema}.body_log b JOIN {schema}.runs r ON r.id = b.run_id WHERE r.parent_id = $1 AND b.worker = 'victim'", run.RunId) > 0,
            "the victim is running children");

        await victim.KillAsync();
        await using var survivor = await StartSurvivorAsync();

        Assert.Equal(Enumerable.Range(0, 100).Sum(i => (long)i * i), await run.GetResultAsync(TimeSpan.FromSeconds(90)));
        var children = await run.GetChildrenAsync();
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"{run.RunId}:0:{i}"), children.Select(c => c.Id));
        Assert.All(children, c => Assert.Equal((RunStatus.Completed, run.RunId), (c.Status, c.ParentRunId)));
        Assert.Equal(100, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE parent_id = $1", run.RunId));
        var steps = await run.GetStepsAsync();
        Assert.Equal(["children SquareChild", "after start"], steps.Select(s => s.Name));
        Assert.Equal(2, (await database.StartsAsync(run.RunId))[("after start", null)]); // once on the victim, once on the survivor
    }

    [Fact]
    public async Task SequentialSteps_WorkerKilledDuringThirdStep_SurvivorFinishesWithoutRepeatingCompletedSteps()
    {
        await using var victim = await ChildWorker.StartAsync(database, "victim", output);
        var run = await _client.Client.StartAsync<SequentialSteps>(new StepsInput(Steps: 5, StepDelayMs: 400, VictimHoldsInStep: 2));
        await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "step-2", "start", "victim") == 1, "the victim is in step 2");

        await victim.KillAsync();
        await using var survivor = await StartSurvivorAsync();
        var result = await run.GetResultAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(["0@victim", "1@victim", "2@survivor", "3@survivor", "4@survivor"], result);
        var starts = await database.StartsAsync(run.RunId);
        Assert.Equal(1, starts[("step-0", null)]);
        Assert.Equal(1, starts[("step-1", null)]);
        Assert.Equal(2, starts[("step-2", null)]); // interrupted: once on each worker
        Assert.Equal(1, starts[("step-3", null)]);
        Assert.Equal(1, starts[("step-4", null)]);
        // One worker loss, which used up no attempt: the survivor's claim is attempt 1 again, under an epoch of its own.
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Completed, 1, 1), (info.Status, info.Attempt, info.WorkerLosses));
        var steps = await run.GetStepsAsync();
        var victimEpoch = steps[0].Epoch;
        Assert.NotEqual(victimEpoch, info.Epoch);
        Assert.Equal([victimEpoch, victimEpoch, info.Epoch, info.Epoch, info.Epoch], steps.Select(s => s.Epoch));
        Assert.All(steps, s => Assert.Equal(StepStatus.Completed, s.Status));
        var lost = Assert.Single(await run.WorkerLossesAsync());
        Assert.Equal((RunHistoryEvents.WorkerLost, "victim", victimEpoch, 1), (lost.Event, lost.WorkerId, lost.Epoch, lost.Attempt));
    }

    [Fact]
    public async Task WorkerRestartedUnderTheSameId_ResumesItsRunsAtOnce_NotAfterTheLease()
    {
        const int LeaseMs = 30_000;
        await using var first = await ChildWorker.StartAsync(database, "pod-7", output, leaseMs: LeaseMs);
        var run = await _client.Client.StartAsync<SequentialSteps>(new StepsInput(Steps: 4, StepDelayMs: 700));
        await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "step-1", "start", "pod-7") == 1, "the first process is in step 1");
        await first.KillAsync();

        // The same pod comes back under the same id: its run resumes at once, far within the 30 s lease.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var second = await ChildWorker.StartAsync(database, "pod-7", output, leaseMs: LeaseMs);
        Assert.Equal(["0@pod-7", "1@pod-7", "2@pod-7", "3@pod-7"], await run.GetResultAsync(TimeSpan.FromSeconds(20)));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(LeaseMs / 2000), $"the run resumed after {clock.Elapsed}");
        var loss = Assert.Single(await run.WorkerLossesAsync());
        Assert.Equal((RunHistoryEvents.WorkerLost, "pod-7"), (loss.Event, loss.WorkerId));
        Assert.Contains("worker_restarted", loss.DetailJson, StringComparison.Ordinal);
        Assert.Equal((1, 1), ((await run.GetAsync()).Attempt, (await run.GetAsync()).WorkerLosses));
        Assert.Contains("started under the id of an earlier process that held 1 run(s)", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerStarting_WhileAnotherWorkersLeaseHoldsARun_LogsWhatWaitsAndUntilWhen()
    {
        await using var holder = await ChildWorker.StartAsync(database, "holder", output, leaseMs: 30_000);
        var run = await _client.Client.StartAsync<SequentialSteps>(new StepsInput(Steps: 1, StepDelayMs: 60_000, VictimHoldsInStep: 0));
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Running, "the holder holds the run under a lease");
        await holder.KillAsync();

        await using var newcomer = await ChildWorker.StartAsync(database, "newcomer", output, leaseMs: 30_000);
        await Eventually.HoldsAsync(() => newcomer.Output.Contains("held by other workers' leases", StringComparison.Ordinal), "the newcomer said so");

        Assert.Contains("1 run(s) are held by other workers' leases, 0 of them expired", newcomer.Output, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Running, (await run.GetAsync()).Status); // another id's lease is left to run out
    }

    [Fact]
    public async Task ForEach_WorkerKilledAfterAThirdOfTheItems_SurvivorRunsOnlyTheRest()
    {
        const int Items = 100;
        const int Parallelism = 4;
        await using var victim = await ChildWorker.StartAsync(database, "victim", output);
        var run = await _client.Client.StartAsync<PerItemSteps>(new ItemsInput(Items, ItemDelayMs: 40, MaxParallelism: Parallelism, VictimHoldsFromItem: 40));
        await Eventually.HoldsAsync(async () => await database.CountAsync(run.RunId, "square", "end", "victim") >= 30, "the victim has finished 30 items");

        await victim.KillAsync();
        var checkpointedByVictim = await database.RowsAsync(
            "SELECT item_index FROM {schema}.steps WHERE run_id = $1 AND item_index IS NOT NULL AND status = 'completed'", run.RunId);
        await using var survivor = await StartSurvivorAsync();
        var sum = await run.GetResultAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Enumerable.Range(0, Items).Sum(i => (long)i * i), sum);
        var starts = await database.StartsAsync(run.RunId);
        Assert.Equal(Items, starts.Keys.Count(k => k.Step == "square"));
        Assert.True(checkpointedByVictim.Count >= 25, $"only {checkpointedByVictim.Count} items were checkpointed before the kill");
        foreach (var row in checkpointedByVictim)
        {
            Assert.Equal(1, starts[("square", (int)row[0]!)]); // checkpointed items never run again
        }

        var rerun = starts.Where(s => s.Key.Step == "square" && s.Value > 1).ToList();
        Assert.All(rerun, s => Assert.Equal(2, s.Value));
        Assert.True(rerun.Count <= Parallelism, $"{rerun.Count} items ran twice; at most {Parallelism} were in flight");
        Assert.Equal(1, starts[("sum", null)]);
        var steps = await run.GetStepsAsync();
        Assert.Equal(Items + 1, steps.Count);
        Assert.All(steps, s => Assert.Equal(StepStatus.Completed, s.Status));
    }
}
