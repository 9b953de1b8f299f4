using Trellis.Postgres.Tests.Infrastructure;
using Trellis.TestWorker;

namespace Trellis.Postgres.Tests;

/// <summary>A worker process is killed with SIGKILL in the middle of a run; another worker finishes it.</summary>
public sealed class CrashRecoveryTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private TrellisEngine _client = null!;

    public async Task InitializeAsync()
    {
        var builder = TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new SequentialSteps(null!)).AddWorkflow(_ => new PerItemSteps(null!));
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
            .StartAsync();
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
        var lost = Assert.Single(await run.GetHistoryAsync());
        Assert.Equal((RunHistoryEvents.WorkerLost, "victim", victimEpoch, 1), (lost.Event, lost.WorkerId, lost.Epoch, lost.Attempt));
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
