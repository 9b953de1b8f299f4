namespace Trellis.Postgres.Tests;

/// <summary>
/// Retry, resume and fork, as an operator uses them: a failed run runs again from its failed step, a cancelled run (and
/// the children its cancel took) resumes from its checkpoints, a fork re-runs only the steps from the chosen one; each is
/// idempotent, recorded in the history, and refused with a clear error (and nothing written) where it makes no sense.
/// </summary>
public sealed class RunControlTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>Whether the code has its bug: a test "deploys the fix" by clearing it.</summary>
    private sealed class Bug
    {
        public volatile bool Present = true;
    }

    /// <summary>Four steps; "third" fails for good while the bug is present.</summary>
    private sealed class FourSteps(Probe probe, Bug bug) : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int input)
        {
            var parts = new List<string>();
            foreach (var name in new[] { "first", "second", "third", "fourth" })
            {
                parts.Add(await context.StepAsync(name, _ =>
                {
                    probe.Hit(name);
                    if (name == "third" && bug.Present)
                    {
                        throw new NonRetryableException("third has a bug");
                    }

                    return Task.FromResult($"{name}:{input}");
                }));
            }

            return string.Join(",", parts);
        }
    }

    /// <summary>A per-item step of five items; item 3 fails for good while the bug is present.</summary>
    private sealed class FiveItems(Probe probe, Bug bug) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var squares = await context.ForEachAsync("square", Enumerable.Range(0, 5).ToArray(), (item, _, _) =>
            {
                probe.Hit($"item {item}");
                return item == 3 && bug.Present ? throw new NonRetryableException("item 3 has a bug") : Task.FromResult(item * item);
            });
            return squares.Sum();
        }
    }

    /// <summary>Waits for an event keyed by its input, then returns it.</summary>
    private sealed class Waiter : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string key)
        {
            var received = await context.WaitForEventAsync<string>("go", key);
            return await context.StepAsync("after", _ => Task.FromResult($"{key}={received.Data}"));
        }
    }

    /// <summary>Starts two <see cref="Waiter"/> children and joins their results.</summary>
    private sealed class TwoWaiters : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string key)
        {
            var children = await context.Child<Waiter>().StartManyAsync([$"{key}-a", $"{key}-b"]);
            return string.Join(" ", await children.GetResultsAsync());
        }
    }

    /// <summary>A step that takes 3 s while the bug is present, under a run timeout of 1 s.</summary>
    private sealed class SlowWhileBuggy(Bug bug) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) =>
            await context.StepAsync("slow", async ct =>
            {
                await Task.Delay(bug.Present ? TimeSpan.FromSeconds(3) : TimeSpan.Zero, ct);
                return input;
            });
    }

    [Fact]
    public async Task Retry_RunsAFailedRunAgainFromItsFailedStep_KeepingTheCompletedOnes()
    {
        var (probe, bug) = (new Probe(), new Bug());
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new FourSteps(probe, bug)).StartAsync();
        var run = await engine.Client.StartAsync<FourSteps>(7);
        var failed = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("third has a bug", failed.Message, StringComparison.Ordinal);

        bug.Present = false;
        var retried = await run.RetryAsync();
        Assert.NotEqual(RunStatus.Failed, retried.Status);
        Assert.Null(retried.Error);
        Assert.Equal("first:7,second:7,third:7,fourth:7", await run.GetResultAsync(TimeSpan.FromSeconds(20)));

        // first and second ran once; third twice (its bug, then the fix), fourth once.
        Assert.Equal((1, 1, 2, 1), (probe.Count("first"), probe.Count("second"), probe.Count("third"), probe.Count("fourth")));
        var events = (await run.GetHistoryAsync()).Select(h => h.Event).ToList();
        Assert.True(events.IndexOf(RunHistoryEvents.Failed) < events.IndexOf(RunHistoryEvents.RetryRequested), string.Join(", ", events));
        Assert.True(events.IndexOf(RunHistoryEvents.RetryRequested) < events.LastIndexOf(RunHistoryEvents.Completed), string.Join(", ", events));
        var third = Assert.Single(await run.GetStepsAsync(), s => s.Name == "third");
        Assert.Equal((StepStatus.Completed, 2), (third.Status, third.Attempts));

        // A completed run cannot be retried: it says what to do instead, and nothing changes.
        var refused = await Assert.ThrowsAsync<RunControlException>(() => run.RetryAsync());
        Assert.Contains("fork", refused.Message, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Completed, (await run.GetAsync()).Status);
    }

    [Fact]
    public async Task Retry_IsIdempotent_AndRefusedForALiveRunThatWasNeverRetried()
    {
        var queue = TestEngines.NewQueue();
        var (probe, bug) = (new Probe(), new Bug());
        string runId;
        await using (var worker = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new FourSteps(probe, bug)).StartAsync())
        {
            runId = (await worker.Client.StartAsync<FourSteps>(1)).RunId;
            await Assert.ThrowsAsync<RunFailedException>(() => worker.Client.GetHandle(runId).GetResultAsync<string>(TimeSpan.FromSeconds(20)));
        }

        await using var client = await TestEngines.ClientAsync(database, output, queue, _ => new FourSteps(probe, bug));
        Assert.Equal(RunStatus.Pending, (await client.Client.RetryAsync(runId)).Status);
        Assert.Equal(RunStatus.Pending, (await client.Client.RetryAsync(runId)).Status); // again: no change, no error
        Assert.Single(await client.Client.GetHistoryAsync(runId), h => h.Event == RunHistoryEvents.RetryRequested);

        // A pending run that never failed.
        var fresh = await client.Client.StartAsync<FourSteps>(2);
        var refused = await Assert.ThrowsAsync<RunControlException>(() => fresh.RetryAsync());
        Assert.Contains("only a failed run can be retried", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(await fresh.GetHistoryAsync(), h => h.Event == RunHistoryEvents.RetryRequested);
        await Assert.ThrowsAsync<RunNotFoundException>(() => client.Client.RetryAsync("no-such-run"));

        bug.Present = false;
        await using var after = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new FourSteps(probe, bug)).StartAsync();
        Assert.Equal("first:1,second:1,third:1,fourth:1", await client.Client.GetHandle(runId).GetResultAsync<string>(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Retry_OfAPerItemStep_RunsOnlyTheItemThatFailed()
    {
        var (probe, bug) = (new Probe(), new Bug());
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new FiveItems(probe, bug)).StartAsync();
        var run = await engine.Client.StartAsync<FiveItems>(0);
        await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(20)));
        var ranBefore = Enumerable.Range(0, 5).Select(i => probe.Count($"item {i}")).ToArray();

        bug.Present = false;
        await run.RetryAsync();
        Assert.Equal(0 + 1 + 4 + 9 + 16, await run.GetResultAsync(TimeSpan.FromSeconds(20)));
        var ranAfter = Enumerable.Range(0, 5).Select(i => probe.Count($"item {i}") - ranBefore[i]).ToArray();
        Assert.Equal([0, 0, 0, 1, 0], ranAfter);
    }

    [Fact]
    public async Task Retry_OfARunThatTimedOut_GivesItItsTimeoutAgain()
    {
        var bug = new Bug();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new SlowWhileBuggy(bug)).StartAsync();
        var run = await engine.Client.StartAsync<SlowWhileBuggy>(5, new StartOptions { Timeout = TimeSpan.FromSeconds(1) });
        var timedOut = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("RunTimedOut", timedOut.Error?.Type, StringComparison.Ordinal);

        bug.Present = false;
        await run.RetryAsync();
        Assert.Equal(5, await run.GetResultAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Resume_OfACancelledWaitingParent_ResumesTheChildrenItsCancelTook_AndAllFinish()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<TwoWaiters>().AddWorkflow<Waiter>().StartAsync();
        var key = Guid.NewGuid().ToString("N");
        var parent = await engine.Client.StartAsync<TwoWaiters>(key);
        await Eventually.HoldsAsync(async () => (await parent.GetChildrenAsync()).Count(c => c.Status == RunStatus.Waiting) == 2, "both children wait");

        await parent.CancelAsync();
        await Assert.ThrowsAsync<RunCancelledException>(() => parent.GetResultAsync(TimeSpan.FromSeconds(20)));
        Assert.All(await parent.GetChildrenAsync(), c => Assert.Equal(RunStatus.Cancelled, c.Status));

        var resumed = await parent.ResumeAsync();
        Assert.Equal((RunStatus.Pending, false), (resumed.Status, resumed.CancelRequested));
        Assert.Equal(RunStatus.Pending, (await parent.ResumeAsync()).Status); // again: no change, no error
        await Eventually.HoldsAsync(async () => (await parent.GetChildrenAsync()).Count(c => c.Status == RunStatus.Waiting) == 2, "both children wait again");

        await engine.Client.PublishEventAsync("go", $"{key}-a", "A");
        await engine.Client.PublishEventAsync("go", $"{key}-b", "B");
        Assert.Equal($"{key}-a=A {key}-b=B", await parent.GetResultAsync(TimeSpan.FromSeconds(20)));
        var child = (await parent.GetChildrenAsync())[0];
        var resume = Assert.Single(await engine.Client.GetHistoryAsync(child.Id), h => h.Event == RunHistoryEvents.Resumed);
        Assert.Contains(parent.RunId, resume.DetailJson, StringComparison.Ordinal);
        Assert.Single(await parent.GetHistoryAsync(), h => h.Event == RunHistoryEvents.Resumed);
    }

    [Fact]
    public async Task ACancel_ThatDeadlocksWithAnotherTransaction_IsSentAgain_AndCancelsTheFamily()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<TwoWaiters>().AddWorkflow<Waiter>().StartAsync();
        var key = Guid.NewGuid().ToString("N");
        var parent = await engine.Client.StartAsync<TwoWaiters>(key);
        await Eventually.HoldsAsync(async () => (await parent.GetAsync()).Status == RunStatus.Waiting
            && (await parent.GetChildrenAsync()).Count(c => c.Status == RunStatus.Waiting) == 2, "the parent and both children wait");
        var child = (await parent.GetChildrenAsync())[0].Id;

        // Another transaction (as a worker's claim window would) holds a child's row, lets the cancel lock the parent
        // and wait for that child, then asks for the parent: a deadlock, which PostgreSQL ends by failing the cancel.
        await using var other = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await Touch(other, child);
        var cancel = parent.CancelAsync();
        await Eventually.HoldsAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH RECURSIVE family%'") > 0,
            "the cancel waits for the child's row");
        await Touch(other, parent.RunId);
        await transaction.CommitAsync();

        await cancel;
        await Assert.ThrowsAsync<RunCancelledException>(() => parent.GetResultAsync(TimeSpan.FromSeconds(20)));
        Assert.All(await parent.GetChildrenAsync(), c => Assert.Equal(RunStatus.Cancelled, c.Status));

        async Task Touch(Npgsql.NpgsqlConnection connection, string runId)
        {
            await using var command = new Npgsql.NpgsqlCommand($"UPDATE {database.Schema.Quoted}.runs SET updated_at = now() WHERE id = $1", connection);
            command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = runId });
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }
    }

    [Fact]
    public async Task Resume_IsRefusedForACompletedRunAndForOneThatFailedWithItsOwnError()
    {
        var (probe, bug) = (new Probe(), new Bug());
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new FourSteps(probe, bug)).StartAsync();
        var failed = await engine.Client.StartAsync<FourSteps>(1);
        await Assert.ThrowsAsync<RunFailedException>(() => failed.GetResultAsync(TimeSpan.FromSeconds(20)));
        var notResumed = await Assert.ThrowsAsync<RunNotResumableException>(() => failed.ResumeAsync());
        Assert.Contains("retried", notResumed.Message, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Failed, (await failed.GetAsync()).Status);

        bug.Present = false;
        var completed = await engine.Client.StartAsync<FourSteps>(2);
        await completed.GetResultAsync(TimeSpan.FromSeconds(20));
        await Assert.ThrowsAsync<RunNotResumableException>(() => completed.ResumeAsync());
        Assert.DoesNotContain(await completed.GetHistoryAsync(), h => h.Event == RunHistoryEvents.Resumed);
    }

    [Fact]
    public async Task Fork_ReRunsOnlyTheStepsFromTheChosenOne_AndRecordsWhereItCameFrom()
    {
        var (probe, bug) = (new Probe(), new Bug());
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new FourSteps(probe, bug)).StartAsync();
        var source = await engine.Client.StartAsync<FourSteps>(3);
        await Assert.ThrowsAsync<RunFailedException>(() => source.GetResultAsync(TimeSpan.FromSeconds(20)));

        // The bug in the third step is fixed; a fork from it reuses the first two.
        bug.Present = false;
        var fork = await engine.Client.ForkAsync(source.RunId, "third");
        Assert.Equal((source.RunId, 2, "FourSteps"), (fork.ForkedFromRunId, fork.ForkedAtStep, fork.WorkflowName));
        Assert.NotEqual(source.RunId, fork.Id);
        Assert.Equal("first:3,second:3,third:3,fourth:3", await engine.Client.GetHandle(fork.Id).GetResultAsync<string>(TimeSpan.FromSeconds(20)));
        Assert.Equal((1, 1, 2, 1), (probe.Count("first"), probe.Count("second"), probe.Count("third"), probe.Count("fourth")));
        Assert.Equal(RunStatus.Failed, (await source.GetAsync()).Status); // the source is not touched

        var history = await engine.Client.GetHistoryAsync(fork.Id);
        Assert.Equal([RunHistoryEvents.Created, RunHistoryEvents.Forked], history.Take(2).Select(h => h.Event));
        Assert.Contains(source.RunId, history[1].DetailJson, StringComparison.Ordinal);
        // Its own steps are the two it ran; the two it reuses are not in its history as its own.
        Assert.Equal(["third", "fourth"], history.Where(h => h.Event == RunHistoryEvents.StepCompleted).Select(h => StepName(h.DetailJson)));
    }

    [Fact]
    public async Task Fork_WithAnId_IsIdempotent_AndBadForksAreRefusedWithoutWritingAnything()
    {
        var (probe, bug) = (new Probe(), new Bug { Present = false });
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new FourSteps(probe, bug)).AddWorkflow<TwoWaiters>().AddWorkflow<Waiter>().StartAsync();
        var source = await engine.Client.StartAsync<FourSteps>(4);
        await source.GetResultAsync(TimeSpan.FromSeconds(20));

        var id = $"fork-{Guid.NewGuid():N}";
        var first = await source.ForkAsync(3, new ForkOptions { RunId = id });
        var again = await source.ForkAsync(3, new ForkOptions { RunId = id });
        Assert.Equal((id, id), (first.Id, again.Id));
        Assert.Equal("first:4,second:4,third:4,fourth:4", await engine.Client.GetHandle(id).GetResultAsync<string>(TimeSpan.FromSeconds(20)));
        Assert.Equal(1, probe.Count("fourth") - 1); // the fork ran the fourth step once more, not twice

        var runsBefore = await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs");
        Assert.Contains("no step at position 9", (await Assert.ThrowsAsync<RunControlException>(() => source.ForkAsync(9))).Message, StringComparison.Ordinal);
        Assert.Contains("no step named", (await Assert.ThrowsAsync<RunControlException>(() => engine.Client.ForkAsync(source.RunId, "fifth"))).Message, StringComparison.Ordinal);
        Assert.Contains("not a fork", (await Assert.ThrowsAsync<RunControlException>(() => source.ForkAsync(1, new ForkOptions { RunId = id }))).Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RunNotFoundException>(() => engine.Client.ForkAsync("no-such-run", 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => source.ForkAsync(-1));
        await Assert.ThrowsAsync<UnknownWorkflowException>(() => source.ForkAsync(0, new ForkOptions { WorkflowVersion = 99 }));
        Assert.Equal(runsBefore, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs"));

        // A run whose second step failed cannot be forked past it; one that started children cannot be forked past that.
        bug.Present = true;
        var failed = await engine.Client.StartAsync<FourSteps>(5);
        await Assert.ThrowsAsync<RunFailedException>(() => failed.GetResultAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("have not completed", (await Assert.ThrowsAsync<RunControlException>(() => failed.ForkAsync(3))).Message, StringComparison.Ordinal);
        var parent = await engine.Client.StartAsync<TwoWaiters>(Guid.NewGuid().ToString("N"));
        await Eventually.HoldsAsync(async () => (await parent.GetAsync()).Status == RunStatus.Waiting, "the parent started its children and waits");
        Assert.Contains("child runs", (await Assert.ThrowsAsync<RunControlException>(() => parent.ForkAsync(1))).Message, StringComparison.Ordinal);
        await parent.CancelAsync();

        Assert.Equal(1, await database.ScalarAsync<long>(
            "SELECT count(*) FROM {schema}.runs WHERE forked_from = ANY($1)", (object)new[] { source.RunId, failed.RunId, parent.RunId }));
    }

    private static string StepName(string? detailJson) =>
        System.Text.Json.JsonDocument.Parse(detailJson!).RootElement.GetProperty("name").GetString()!;
}
