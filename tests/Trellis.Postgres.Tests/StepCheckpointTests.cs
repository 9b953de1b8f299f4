namespace Trellis.Postgres.Tests;

public sealed class StepCheckpointTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>Two steps, then a failure on the first attempt only, then a third step.</summary>
    private sealed class FailsOnceAfterTwoSteps(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var loaded = await context.StepAsync("load", _ =>
            {
                probe.Hit("load");
                return Task.FromResult(input + 1);
            });
            var doubled = await context.StepAsync("double", _ =>
            {
                probe.Hit("double");
                return Task.FromResult(loaded * 2);
            });
            if (context.Attempt == 1)
            {
                throw new InvalidOperationException("the first attempt fails after two steps");
            }

            return await context.StepAsync("finish", _ =>
            {
                probe.Hit("finish");
                return Task.FromResult(doubled + 100);
            });
        }
    }

    [Fact]
    public async Task StepAsync_RunReexecuted_CompletedStepsReturnStoredResultsWithoutRunningBodies()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new FailsOnceAfterTwoSteps(probe)).StartAsync();

        var run = await engine.Client.StartAsync<FailsOnceAfterTwoSteps>(4);
        var result = await run.GetResultAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(110, result);
        Assert.Equal(1, probe.Count("load"));
        Assert.Equal(1, probe.Count("double"));
        Assert.Equal(1, probe.Count("finish"));
        var info = await run.GetAsync();
        Assert.Equal(RunStatus.Completed, info.Status);
        Assert.Equal(2, info.Attempt);
        var steps = await run.GetStepsAsync();
        Assert.Equal(["load", "double", "finish"], steps.Select(s => s.Name));
        Assert.Equal([0, 1, 2], steps.Select(s => s.Sequence));
        Assert.All(steps, s => Assert.Equal(StepStatus.Completed, s.Status));
        Assert.Equal(["5", "10", "110"], steps.Select(s => s.ResultJson));
    }

    /// <summary>Asks for "first" on attempt 1 and for "renamed" at the same position on attempt 2.</summary>
    private sealed class ChangesItsSteps(Probe probe) : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int input)
        {
            var name = context.Attempt == 1 ? "first" : "renamed";
            var value = await context.StepAsync(name, _ =>
            {
                probe.Hit(name);
                return Task.FromResult(name);
            });
            if (context.Attempt == 1)
            {
                throw new InvalidOperationException("retry me");
            }

            return value;
        }
    }

    [Fact]
    public async Task StepAsync_DifferentStepAtSamePositionOnReplay_FailsRunWithNonDeterminismError()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new ChangesItsSteps(probe)).StartAsync();

        var run = await engine.Client.StartAsync<ChangesItsSteps>(1);
        var failure = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(typeof(NonDeterminismException).FullName, failure.Error!.Type);
        Assert.Contains("'first'", failure.Error.Message, StringComparison.Ordinal);
        Assert.Contains("'renamed'", failure.Error.Message, StringComparison.Ordinal);
        Assert.Equal(0, probe.Count("renamed"));
        var info = await run.GetAsync();
        Assert.Equal(RunStatus.Failed, info.Status);
        Assert.Equal(2, info.Attempt); // permanent: no third attempt
        var step = Assert.Single(await run.GetStepsAsync());
        Assert.Equal("first", step.Name);
        Assert.Equal("\"first\"", step.ResultJson);
    }

    private sealed class SquaresInReverseTime : Workflow<int, int[]>
    {
        public override Task<int[]> RunAsync(WorkflowContext context, int count) =>
            context.ForEachAsync("square", Enumerable.Range(0, count).ToArray(), async (item, index, ct) =>
            {
                await Task.Delay((count - index) * 5, ct); // later items finish first
                return item * item;
            }, maxParallelism: count);
    }

    [Fact]
    public async Task ForEachAsync_ManyItems_OneRowPerItemWithIndexAndResultsInItemOrder()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<SquaresInReverseTime>().StartAsync();

        var run = await engine.Client.StartAsync<SquaresInReverseTime>(20);
        var result = await run.GetResultAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 20).Select(i => i * i), result);
        var steps = await run.GetStepsAsync();
        Assert.Equal(20, steps.Count);
        Assert.All(steps, s =>
        {
            Assert.Equal("square", s.Name);
            Assert.Equal(0, s.Sequence);
            Assert.Equal(StepStatus.Completed, s.Status);
            Assert.Equal((s.ItemIndex!.Value * s.ItemIndex.Value).ToString(System.Globalization.CultureInfo.InvariantCulture), s.ResultJson);
        });
        Assert.Equal(Enumerable.Range(0, 20).Cast<int?>(), steps.Select(s => s.ItemIndex));
        var perItemRows = await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.steps WHERE run_id = $1 AND item_index IS NOT NULL", run.RunId);
        Assert.Equal(20, perItemRows);
    }

    /// <summary>Ten items; item 7 fails on the first run attempt, which makes the whole attempt fail.</summary>
    private sealed class ItemSevenFailsOnce(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var values = await context.ForEachAsync("item", Enumerable.Range(0, 10).ToArray(), (item, index, _) =>
            {
                probe.Hit($"item-{index}");
                if (index == 7 && context.Attempt == 1)
                {
                    throw new InvalidOperationException("item 7 fails on the first attempt");
                }

                return Task.FromResult(item);
            }, maxParallelism: 10, new StepOptions { Retry = RetryPolicy.None });
            return values.Sum();
        }
    }

    [Fact]
    public async Task ForEachAsync_RunRetriedAfterItemFailed_OnlyItemsWithoutCompletedRowRunAgain()
    {
        var probe = new Probe();
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new ItemSevenFailsOnce(probe));
        builder.Options.RetryFailedStepsOnRunRetry = true; // the failed item runs again on the run's next attempt
        await using var engine = await builder.StartAsync();

        var run = await engine.Client.StartAsync<ItemSevenFailsOnce>(0);
        Assert.Equal(45, await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(2, probe.Count("item-7"));
        Assert.All(Enumerable.Range(0, 10).Where(i => i != 7), i => Assert.Equal(1, probe.Count($"item-{i}")));
        var item7 = (await run.GetStepsAsync()).Single(s => s.ItemIndex == 7);
        Assert.Equal(StepStatus.Completed, item7.Status);
        Assert.Equal(2, item7.Attempts);
        Assert.Equal("System.InvalidOperationException", Assert.Single(item7.AttemptErrors).Type);
    }

    private sealed class FlakyStep(Probe probe) : Workflow<int, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, int failures) =>
            context.StepAsync("flaky", _ => probe.Hit("flaky") <= failures
                ? throw new IOException($"transient failure {probe.Count("flaky")}")
                : Task.FromResult("ok"));
    }

    [Fact]
    public async Task StepAsync_FailedAttemptsThenSuccess_RowKeepsEveryAttemptError()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new FlakyStep(probe)).StartAsync();

        var run = await engine.Client.StartAsync<FlakyStep>(2);
        Assert.Equal("ok", await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        var step = Assert.Single(await run.GetStepsAsync());
        Assert.Equal(StepStatus.Completed, step.Status);
        Assert.Equal(3, step.Attempts);
        Assert.Equal(["transient failure 1", "transient failure 2"], step.AttemptErrors.Select(e => e.Message));
        Assert.Equal([1, 2], step.AttemptErrors.Select(e => e.Attempt));
        Assert.All(step.AttemptErrors, e => Assert.Equal("System.IO.IOException", e.Type));
        Assert.All(step.AttemptErrors, e => Assert.Contains("FlakyStep", e.StackTrace, StringComparison.Ordinal));
        Assert.NotNull(step.StartedAt);
        Assert.True(step.CompletedAt >= step.StartedAt);
        // The same data is there for plain SQL.
        var errorsInSql = await database.ScalarAsync<long>("SELECT jsonb_array_length(attempt_errors) FROM {schema}.steps WHERE run_id = $1", run.RunId);
        Assert.Equal(2, errorsInSql);
    }

    private sealed class HeldStep(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            await context.ReportProgressAsync(10, "starting");
            var value = await context.StepAsync("held", async _ =>
            {
                probe.Hit("held");
                await probe.Gate("held");
                return input;
            });
            await context.ReportProgressAsync(100, "done");
            return value;
        }
    }

    [Fact]
    public async Task StepAsync_LongStep_IsVisibleAsRunningAndProgressIsSaved()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new HeldStep(probe)).StartAsync();

        var run = await engine.Client.StartAsync<HeldStep>(7);
        await probe.WaitForAsync("held", 1);
        await Eventually.HoldsAsync(async () => (await run.GetStepsAsync()).Any(s => s.Status == StepStatus.Running), "the held step shows as running");
        var during = await run.GetAsync();
        Assert.Equal(RunStatus.Running, during.Status);
        Assert.Equal(10, during.ProgressPercent);
        Assert.Equal("starting", during.ProgressMessage);
        Assert.Equal(engine.Worker!.WorkerId, during.LockedBy);
        Assert.True(during.LeaseExpiresAt > during.UpdatedAt);

        probe.Open("held");
        Assert.Equal(7, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        var after = await run.GetAsync();
        Assert.Equal(100, after.ProgressPercent);
        Assert.Equal("done", after.ProgressMessage);
        Assert.Null(after.LockedBy);
        Assert.Equal(StepStatus.Completed, Assert.Single(await run.GetStepsAsync()).Status);
    }

    private sealed class ParallelSteps : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int input)
        {
            var slow = context.StepAsync("slow", async ct =>
            {
                await Task.Delay(100, ct);
                return "a";
            });
            var quick = context.StepAsync("quick", _ => Task.FromResult("b"));
            var results = await Task.WhenAll(slow, quick);
            return string.Concat(results);
        }
    }

    [Fact]
    public async Task StepAsync_StartedTogether_TakePositionsInCallOrder()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<ParallelSteps>().StartAsync();

        var run = await engine.Client.StartAsync<ParallelSteps>(0);
        Assert.Equal("ab", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        var steps = await run.GetStepsAsync();
        Assert.Equal([("slow", 0), ("quick", 1)], steps.Select(s => (s.Name, s.Sequence)));
    }

    /// <summary>Records IsReplaying around its steps; fails its first attempt after two steps.</summary>
    private sealed class WatchesReplay(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            probe.Hit($"attempt{context.Attempt}:start:{context.IsReplaying}");
            await context.StepAsync("one", _ => Task.FromResult(1));
            await context.ReportProgressAsync(context.Attempt == 1 ? 50 : 10, $"after one, attempt {context.Attempt}");
            await context.StepAsync("two", _ => Task.FromResult(2));
            probe.Hit($"attempt{context.Attempt}:after-two:{context.IsReplaying}");
            if (context.Attempt == 1)
            {
                throw new InvalidOperationException("again");
            }

            await context.StepAsync("three", _ => Task.FromResult(3));
            probe.Hit($"attempt{context.Attempt}:after-three:{context.IsReplaying}");
            return 3;
        }
    }

    [Fact]
    public async Task IsReplaying_SecondAttempt_TrueUntilThePastStoredStepsThenFalseAndProgressNotRewound()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new WatchesReplay(probe)).StartAsync();

        var run = await engine.Client.StartAsync<WatchesReplay>(0);
        Assert.Equal(3, await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(
            ["attempt1:start:False", "attempt1:after-two:False", "attempt2:start:True", "attempt2:after-two:False", "attempt2:after-three:False"],
            probe.Order);
        var info = await run.GetAsync();
        Assert.Equal((50.0, "after one, attempt 1"), (info.ProgressPercent, info.ProgressMessage)); // the replayed report was not written
    }
}
