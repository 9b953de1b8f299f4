using System.Diagnostics;

namespace Trellis.Postgres.Tests;

/// <summary>
/// Trellis's spans: one per run attempt and per step, tagged with the run, workflow, step, attempt and whether the
/// step was replayed; and the trace context of the caller that started a run, stored with it, so that the run's spans
/// are the caller's children on any worker, in any process.
/// </summary>
public sealed class TracingTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly SpanRecorder _spans = new();

    public void Dispose() => _spans.Dispose();

    private sealed class TracedSteps(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var first = await context.StepAsync("first", _ => Task.FromResult(input + 1));
            return await context.StepAsync("second", async ct =>
            {
                probe.Hit("second");
                await probe.Gate("second").WaitAsync(ct);
                return first * 10;
            });
        }
    }

    private sealed class TracedParent : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) =>
            await await context.Child<TracedChild>().StartAsync(input);
    }

    private sealed class TracedChild : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) =>
            await context.StepAsync("double", _ => Task.FromResult(input * 2));
    }

    [Fact]
    public async Task RunAndStepSpans_CarryTheRunWorkflowStepAndAttempt()
    {
        var probe = new Probe();
        probe.Open("second");
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new TracedSteps(probe)).StartAsync();

        var run = await engine.Client.Workflow<TracedSteps>().StartAsync(1);
        Assert.Equal(20, await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        var runSpan = Assert.Single(await EndedRunSpansAsync(run.RunId, 1));
        Assert.Equal($"run {nameof(TracedSteps)}", runSpan.OperationName);
        Assert.Equal(nameof(TracedSteps), runSpan.GetTagItem("trellis.workflow"));
        Assert.Equal(1, runSpan.GetTagItem("trellis.run.attempt"));
        await Eventually.HoldsAsync(() => _spans.StepSpans(run.RunId).Count == 2, "both step spans ended");
        var steps = _spans.StepSpans(run.RunId).OrderBy(s => (int)s.GetTagItem("trellis.step.sequence")!).ToList();
        Assert.Equal(["first", "second"], steps.Select(s => s.GetTagItem("trellis.step")));
        Assert.All(steps, s =>
        {
            Assert.Equal(nameof(TracedSteps), s.GetTagItem("trellis.workflow"));
            Assert.Equal(1, s.GetTagItem("trellis.step.attempt"));
            Assert.Equal(false, s.GetTagItem("trellis.step.replayed"));
            Assert.Equal(runSpan.SpanId, s.ParentSpanId); // steps are children of their run attempt
            Assert.Equal(runSpan.TraceId, s.TraceId);
        });
    }

    [Fact]
    public async Task ARunStartedByAClientOnly_JoinsTheCallersTrace_OnAWorkerElsewhere_ByEveryKindOfStart()
    {
        var probe = new Probe();
        probe.Open("second");
        var queue = TestEngines.NewQueue();
        await using var client = await TestEngines.ClientAsync(database, output, queue, _ => new TracedSteps(probe));

        // The caller's span ends before any worker exists: no span in this process can parent the runs but the stored one.
        var caller = new Activity("caller").SetIdFormat(ActivityIdFormat.W3C).Start();
        caller.TraceStateString = "vendor=opaque";
        var typed = await client.Client.Workflow<TracedSteps>().StartAsync(1);
        var many = await client.Client.StartManyAsync<TracedSteps>([2, 3]);
        var byName = await client.Client.StartJsonAsync(nameof(TracedSteps), "4");
        caller.Stop();
        Assert.Null(Activity.Current);

        await using var worker = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new TracedSteps(probe)).StartAsync();
        foreach (var runId in new[] { typed.RunId, byName.RunId }.Concat(many))
        {
            await worker.Client.WaitForOutcomeAsync(runId, TimeSpan.FromSeconds(30));
            var runSpan = Assert.Single(await EndedRunSpansAsync(runId, 1));
            Assert.Equal(caller.TraceId, runSpan.TraceId);
            Assert.Equal(caller.SpanId, runSpan.ParentSpanId);
            Assert.True(runSpan.HasRemoteParent);
            Assert.Equal("vendor=opaque", runSpan.TraceStateString);
        }
    }

    [Fact]
    public async Task ARunResumedByASecondWorker_StaysInTheCallersTrace_AndTagsItsReplayedStep()
    {
        var probe = new Probe();
        var queue = TestEngines.NewQueue();
        await using var client = await TestEngines.ClientAsync(database, output, queue, _ => new TracedSteps(probe));
        var first = await TestEngines.Builder(database, output, queue)
            .AddWorkflow(_ => new TracedSteps(probe))
            .ConfigureWorker(w => w.ShutdownTimeout = TimeSpan.FromMilliseconds(300))
            .StartAsync();

        var caller = new Activity("caller").Start();
        var run = await client.Client.Workflow<TracedSteps>().StartAsync(1);
        caller.Stop();
        await probe.WaitForAsync("second", 1);
        await first.DisposeAsync(); // the run is given back mid-step, "first" checkpointed

        probe.Open("second");
        await using var second = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new TracedSteps(probe)).StartAsync();
        Assert.Equal(20, await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        var attempts = await EndedRunSpansAsync(run.RunId, 2);
        Assert.All(attempts, a => Assert.Equal((caller.TraceId, caller.SpanId), (a.TraceId, a.ParentSpanId)));
        var resumed = attempts.Single(a => (long)a.GetTagItem("trellis.run.epoch")! == attempts.Max(x => (long)x.GetTagItem("trellis.run.epoch")!));
        var resumedSteps = _spans.StepSpans(run.RunId).Where(s => s.ParentSpanId == resumed.SpanId).ToList();
        var replayed = Assert.Single(resumedSteps, s => (string)s.GetTagItem("trellis.step")! == "first");
        Assert.Equal(true, replayed.GetTagItem("trellis.step.replayed"));
        Assert.Equal(1, replayed.GetTagItem("trellis.step.attempt"));
        var ranAgain = Assert.Single(resumedSteps, s => (string)s.GetTagItem("trellis.step")! == "second");
        Assert.Equal(false, ranAgain.GetTagItem("trellis.step.replayed"));
    }

    [Fact]
    public async Task AChildRun_IsAChildOfItsParentRunsSpan()
    {
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new TracedParent())
            .AddWorkflow(_ => new TracedChild())
            .StartAsync();

        var caller = new Activity("caller").Start();
        var run = await engine.Client.Workflow<TracedParent>().StartAsync(21);
        caller.Stop();
        Assert.Equal(42, await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        var childId = Assert.Single(await engine.Client.GetChildrenAsync(run.RunId)).Id;
        var childSpan = Assert.Single(await EndedRunSpansAsync(childId, 1));
        var parentAttempts = _spans.RunSpans(run.RunId);
        Assert.Contains(parentAttempts, p => p.SpanId == childSpan.ParentSpanId); // the attempt that started it
        Assert.Equal(caller.TraceId, childSpan.TraceId);
        Assert.All(parentAttempts, p => Assert.Equal(caller.SpanId, p.ParentSpanId));
    }

    /// <summary>The run's spans once <paramref name="count"/> have ended (a run span ends just after its outcome is written).</summary>
    private async Task<IReadOnlyList<Activity>> EndedRunSpansAsync(string runId, int count)
    {
        await Eventually.HoldsAsync(() => _spans.RunSpans(runId).Count >= count, $"{count} run span(s) of {runId} ended", observed: () => $"{_spans.RunSpans(runId).Count} ended");
        return _spans.RunSpans(runId);
    }
}
