using System.Diagnostics;
using Trellis.Storage;

namespace Trellis.Postgres.Tests;

/// <summary>
/// A cancel reaches the running step at once (its token), from this process or another, and a run whose cancel was
/// requested before its outcome committed ends cancelled, never completed.
/// </summary>
public sealed class CancelTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>A first step, then a last step of 30 s that stops when its token is cancelled (or ignores it).</summary>
    private sealed class LongLastStep(Probe probe, bool ignoreToken) : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int input)
        {
            await context.StepAsync("first", _ => Task.FromResult(1));
            return await context.StepAsync("last", async ct =>
            {
                probe.Hit("last started");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(ignoreToken ? 2 : 30), ignoreToken ? CancellationToken.None : ct);
                    probe.Hit("last finished");
                    return "done";
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    probe.Hit("last cancelled");
                    throw;
                }
            });
        }
    }

    [Fact]
    public async Task CancelDuringTheLastStep_CancelsTheStepsTokenAtOnce_AndTheRunEndsCancelled()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new LongLastStep(probe, ignoreToken: false)).StartAsync();
        var run = await engine.Client.StartAsync<LongLastStep>(0);
        await probe.WaitForAsync("last started", 1);

        var clock = Stopwatch.StartNew();
        await run.CancelAsync();
        await Assert.ThrowsAsync<RunCancelledException>(() => run.GetResultAsync(TimeSpan.FromSeconds(20)));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the cancel took {clock.Elapsed}");
        // The run ends without waiting for the body, whose token was cancelled: it ends on its own, by its catch.
        await probe.WaitForAsync("last cancelled", 1);
        Assert.Equal(0, probe.Count("last finished"));
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Cancelled, null), (info.Status, info.OutputJson));
        Assert.Equal(["first"], (await run.GetStepsAsync()).Where(s => s.Status == StepStatus.Completed).Select(s => s.Name));
    }

    [Fact]
    public async Task CancelDuringALastStepThatIgnoresItsToken_EndsTheRunCancelled_AndTheBodysLateResultIsNotStored()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new LongLastStep(probe, ignoreToken: true)).StartAsync();
        var run = await engine.Client.StartAsync<LongLastStep>(0);
        await probe.WaitForAsync("last started", 1);

        await run.CancelAsync();
        await Assert.ThrowsAsync<RunCancelledException>(() => run.GetResultAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, probe.Count("last finished")); // cancelled without waiting for the body

        await probe.WaitForAsync("last finished", 1); // the abandoned body ends on its own
        Assert.Equal(RunStatus.Cancelled, (await run.GetAsync()).Status);
        Assert.DoesNotContain(await run.GetStepsAsync(), s => s.Name == "last" && s.Status == StepStatus.Completed);
    }

    [Fact]
    public async Task CancelFromAnotherProcess_ReachesTheStepOnTheWorker()
    {
        var probe = new Probe();
        var queue = TestEngines.NewQueue();
        await using var worker = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new LongLastStep(probe, ignoreToken: false)).StartAsync();
        await using var client = await TestEngines.ClientAsync(database, output, queue, _ => new LongLastStep(probe, ignoreToken: false));
        var run = await worker.Client.StartAsync<LongLastStep>(0);
        await probe.WaitForAsync("last started", 1);

        await client.Client.CancelAsync(run.RunId);

        await probe.WaitForAsync("last cancelled", 1, TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<RunCancelledException>(() => client.Client.GetHandle(run.RunId).GetResultAsync<string>(TimeSpan.FromSeconds(20)));
    }

    [Theory]
    [InlineData(RunFinishKind.Completed)]
    [InlineData(RunFinishKind.Retry)]
    [InlineData(RunFinishKind.Release)]
    [InlineData(RunFinishKind.Suspend)]
    public async Task CancelThatCommitsBeforeTheOutcome_TheOutcomeIsWrittenAsACancellation(RunFinishKind kind)
    {
        await using var store = database.NewStore();
        await store.MigrateAsync();
        var queue = TestEngines.NewQueue();
        var runId = $"raced-{Guid.NewGuid():N}";
        await store.CreateRunsAsync([new NewRun(runId, "Wf", 1, queue, 0, "{}", null, new Dictionary<string, string>(), 3, null)]);
        var claimed = Assert.Single(await store.ClaimAsync(new ClaimRequest("w", [queue], [new WorkflowKey("Wf", 1)], 1, TimeSpan.FromSeconds(30))));

        // The worker has checked for a cancel and found none; the cancel commits before its outcome does.
        Assert.True((await store.RequestCancelAsync(runId))!.CancelRequested);
        var finish = new RunFinish { RunId = runId, Epoch = claimed.Epoch, Kind = kind, OutputJson = "\"done\"", ErrorJson = "{}" };
        var batch = new CheckpointBatch();
        batch.Finishes.Add(finish);
        await store.CommitAsync(batch);

        Assert.Equal((true, true), (finish.Applied, finish.CancelledInstead));
        var run = await store.GetRunAsync(runId);
        Assert.Equal((RunStatus.Cancelled, null), (run!.Status, run.OutputJson));
        Assert.NotNull(run.CompletedAt);

        // Written again (its commit's answer was lost), the same outcome is recognised as written.
        finish.Applied = false;
        await store.CommitAsync(batch);
        Assert.True(finish.Applied);
    }
}
