namespace Trellis.Postgres.Tests;

/// <summary>
/// Child runs: a parent starts children, with ids from its own id and position, and awaits their results while it
/// waits in the store holding no worker slot; many start in one round trip and are awaited together or in turn; a
/// child's failure reaches the parent; cancelling a parent cancels its children as their policy says.
/// </summary>
public sealed class ChildRunTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>Doubles its input after a gate named by the input; fails for a negative one.</summary>
    private sealed class Doubler(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            probe.Hit("child");
            await probe.Gate($"child {input}").WaitAsync(context.CancellationToken);
            return input < 0 ? throw new InvalidOperationException($"{input} is negative") : input * 2;
        }
    }

    /// <summary>Starts one child, then awaits it.</summary>
    private sealed class OneChild(Probe probe) : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int input)
        {
            var before = await context.StepAsync("before", _ =>
            {
                probe.Hit("before");
                return Task.FromResult(input);
            });
            var child = await context.Child<Doubler>().StartAsync(before);
            try
            {
                return $"child said {await child}";
            }
            catch (ChildRunFailedException ex)
            {
                return $"child {ex.RunId} failed ({ex.Cancelled}): {ex.Error?.Message}";
            }
        }
    }

    /// <summary>Starts one child per input in one call; awaits all at once, or each in turn.</summary>
    private sealed class ManyChildren(bool inTurn, ParentCancelPolicy policy = ParentCancelPolicy.CancelChild) : Workflow<int[], int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int[] input)
        {
            var children = await context.Child<Doubler>().StartManyAsync(input, new ChildOptions { WhenParentCancelled = policy, Tags = new Dictionary<string, string> { ["kind"] = "doubler" } });
            if (!inTurn)
            {
                return (await children.GetResultsAsync()).Sum();
            }

            var sum = 0;
            foreach (var child in children)
            {
                sum += await child;
            }

            return sum;
        }
    }

    [Fact]
    public async Task AParentAwaitingAChild_WaitsHoldingNoSlot_AndGetsItsResult()
    {
        var probe = new Probe();
        await using var engine = await Engine(probe, new OneChild(probe)).StartAsync();
        var run = await engine.Client.StartAsync<OneChild>(21);
        var childId = $"{run.RunId}:1";

        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the parent waits for its child");
        var waiting = await run.GetAsync();
        Assert.Equal(("a child run", (string?)null), (waiting.WaitReason, waiting.LockedBy));
        await probe.WaitForAsync("child", 1);
        Assert.Equal([childId], engine.Worker!.InFlightRunIds); // the parent holds no slot while it waits
        var child = Assert.Single(await run.GetChildrenAsync());
        Assert.Equal((childId, run.RunId, "Doubler"), (child.Id, child.ParentRunId, child.WorkflowName));
        Assert.False(child.Status.IsTerminal()); // running, or pending while its claim window is open

        probe.Open("child 21");

        Assert.Equal("child said 42", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal((1, 1), (probe.Count("before"), probe.Count("child"))); // replayed, not run again
        Assert.Equal(["before", "child Doubler"], (await run.GetStepsAsync()).Select(s => s.Name));
    }

    [Fact]
    public async Task AChildsFailure_ReachesTheParent()
    {
        var probe = new Probe();
        probe.Open("child -1");
        await using var engine = await Engine(probe, new OneChild(probe)).StartAsync();
        var run = await engine.Client.StartAsync<OneChild>(-1);

        Assert.Equal($"child {run.RunId}:1 failed (False): -1 is negative", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(RunStatus.Failed, (await engine.Client.GetRunAsync($"{run.RunId}:1"))!.Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ManyChildrenStartInOneCall_AndTheParentGetsEveryResult_AllAtOnceOrInTurn(bool inTurn)
    {
        var probe = new Probe();
        var inputs = Enumerable.Range(1, 50).ToArray();
        foreach (var i in inputs)
        {
            probe.Open($"child {i}");
        }

        await using var engine = await Engine(probe, new ManyChildren(inTurn)).StartAsync();
        var run = await engine.Client.StartAsync<ManyChildren>(inputs);

        Assert.Equal(inputs.Sum() * 2, await run.GetResultAsync(TimeSpan.FromSeconds(60)));
        var children = await run.GetChildrenAsync();
        Assert.Equal(inputs.Select((_, i) => $"{run.RunId}:0:{i}"), children.Select(c => c.Id));
        Assert.All(children, c => Assert.Equal((RunStatus.Completed, "doubler"), (c.Status, c.Tags["kind"])));
        Assert.Equal(50, probe.Count("child"));
        Assert.Equal(1, await database.ScalarAsync<long>(
            "SELECT count(*) FROM {schema}.steps WHERE run_id = $1 AND name = 'children Doubler'", run.RunId));
    }

    [Theory]
    [InlineData(ParentCancelPolicy.CancelChild)]
    [InlineData(ParentCancelPolicy.Abandon)]
    public async Task CancellingAWaitingParent_EndsItAtOnce_AndItsChildrenAsTheirPolicySays(ParentCancelPolicy policy)
    {
        var probe = new Probe();
        await using var engine = await Engine(probe, new ManyChildren(inTurn: false, policy)).StartAsync();
        int[] inputs = [1, 2, 3];
        var run = await engine.Client.StartAsync<ManyChildren>(inputs);
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the parent waits for its children");
        await probe.WaitForAsync("child", 3);

        var cancelled = await run.CancelAsync();

        Assert.Equal(RunStatus.Cancelled, cancelled.Status);
        if (policy == ParentCancelPolicy.CancelChild)
        {
            await Eventually.HoldsAsync(async () => (await run.GetChildrenAsync()).All(c => c.Status == RunStatus.Cancelled), "the children are cancelled");
        }
        else
        {
            Assert.All(await run.GetChildrenAsync(), c => Assert.False(c.CancelRequested));
            foreach (var i in inputs)
            {
                probe.Open($"child {i}");
            }

            await Eventually.HoldsAsync(async () => (await run.GetChildrenAsync()).All(c => c.Status == RunStatus.Completed), "the children run on");
            Assert.Equal(RunStatus.Cancelled, (await run.GetAsync()).Status);
        }
    }

    [Theory]
    [InlineData(ParentCancelPolicy.CancelChild)]
    [InlineData(ParentCancelPolicy.Abandon)]
    public async Task AParentThatTimesOut_EndsItsChildrenAsTheirPolicySays(ParentCancelPolicy policy)
    {
        var probe = new Probe();
        await using var engine = await Engine(probe, new ManyChildren(inTurn: false, policy)).StartAsync();
        int[] inputs = [4, 5];
        var run = await engine.Client.StartAsync<ManyChildren>(inputs, new StartOptions { Timeout = TimeSpan.FromSeconds(2) });
        await probe.WaitForAsync("child", 2);

        var failed = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("RunTimedOut", failed.Error?.Type, StringComparison.Ordinal);
        if (policy == ParentCancelPolicy.CancelChild)
        {
            await Eventually.HoldsAsync(async () => (await run.GetChildrenAsync()).All(c => c.Status == RunStatus.Cancelled), "the children are cancelled");
            var child = (await run.GetChildrenAsync())[0];
            var cancel = Assert.Single(await engine.Client.GetHistoryAsync(child.Id), h => h.Event == RunHistoryEvents.CancelRequested);
            Assert.Contains(run.RunId, cancel.DetailJson, StringComparison.Ordinal);
        }
        else
        {
            Assert.All(await run.GetChildrenAsync(), c => Assert.False(c.CancelRequested));
            foreach (var i in inputs)
            {
                probe.Open($"child {i}");
            }

            await Eventually.HoldsAsync(async () => (await run.GetChildrenAsync()).All(c => c.Status == RunStatus.Completed), "the children run on");
        }
    }

    [Fact]
    public async Task ABadChildOption_FailsTheParentWithAClearError_AndStartsNothing()
    {
        var probe = new Probe();
        await using var engine = await Engine(probe, new BadQueueParent()).StartAsync();
        var run = await engine.Client.StartAsync<BadQueueParent>(1);

        var outcome = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(RunStatus.Failed, outcome.Status);
        Assert.Contains("not a queue name", outcome.Error!.Message, StringComparison.Ordinal);
        Assert.Empty(await run.GetChildrenAsync());
    }

    private sealed class BadQueueParent : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) =>
            await await context.Child<Doubler>().StartAsync(input, new ChildOptions { Queue = "no spaces allowed" });
    }

    private TrellisBuilder Engine<TParent>(Probe probe, TParent parent)
        where TParent : class, IWorkflow =>
        TestEngines.Builder(database, output).AddWorkflow(_ => new Doubler(probe)).AddWorkflow(_ => parent);
}
