namespace Trellis.Postgres.Tests;

/// <summary>
/// Trellis's metrics as a <see cref="System.Diagnostics.Metrics.MeterListener"/> sees them: run counters and step durations
/// by workflow, step and outcome, claim latency, and the queue gauges fed by the worker's periodic read.
/// </summary>
public sealed class MetricsTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IDisposable
{
    private const string Workflow = "trellis.workflow";
    private readonly MetricRecorder _metrics = new();

    public void Dispose() => _metrics.Dispose();

    private sealed class MeteredWork : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var checkedInput = await context.StepAsync("check", _ =>
                input >= 0 ? Task.FromResult(input) : throw new NonRetryableException($"{input} is negative"));
            return await context.StepAsync("work", _ => Task.FromResult(checkedInput * 2));
        }
    }

    private sealed class MeteredGate(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) =>
            await context.StepAsync("wait", async ct =>
            {
                probe.Hit("wait");
                await probe.Gate("wait").WaitAsync(ct);
                return input;
            });
    }

    [Fact]
    public async Task RunCountersAndStepDurations_AreTaggedWithTheWorkflowStepAndOutcome()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new MeteredWork()).StartAsync();

        var runs = new List<RunHandle>();
        foreach (var input in new[] { 1, 2, -1 })
        {
            runs.Add(await engine.Client.StartAsync(nameof(MeteredWork), input));
        }

        foreach (var run in runs)
        {
            await engine.Client.WaitForOutcomeAsync(run.RunId, TimeSpan.FromSeconds(30));
        }

        var name = nameof(MeteredWork);
        await Eventually.HoldsAsync(
            () => _metrics.Sum("trellis.runs.completed", Workflow, name) == 2 && _metrics.Sum("trellis.runs.failed", Workflow, name) == 1,
            "two runs counted completed and one failed",
            observed: () => $"completed {_metrics.Sum("trellis.runs.completed", Workflow, name)}, failed {_metrics.Sum("trellis.runs.failed", Workflow, name)}");
        Assert.Equal(3, _metrics.Sum("trellis.runs.started", Workflow, name));
        Assert.Equal("{run}", _metrics.Of("trellis.runs.started", Workflow, name)[0].Unit);
        var attempts = _metrics.Of("trellis.run.attempts", Workflow, name);
        Assert.Equal(2, attempts.Count(a => Equals(a.Tag("trellis.outcome"), "completed")));
        Assert.Equal(1, attempts.Count(a => Equals(a.Tag("trellis.outcome"), "failed")));

        var steps = _metrics.Of("trellis.step.duration", Workflow, name);
        Assert.All(steps, s => Assert.Equal("s", s.Unit));
        Assert.All(steps, s => Assert.InRange(s.Value, 0, 30));
        var byStepAndOutcome = steps.GroupBy(s => ((string)s.Tag("trellis.step")!, (string)s.Tag("trellis.outcome")!)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(
            new Dictionary<(string, string), int> { [("check", "completed")] = 2, [("check", "failed")] = 1, [("work", "completed")] = 2 },
            byStepAndOutcome);

        // Not tagged (a claim serves many workflows, and other tests' workers claim too): seen measured, in seconds.
        var claims = _metrics.All("trellis.claim.duration");
        Assert.NotEmpty(claims);
        Assert.Equal("s", claims[0].Unit);
    }

    [Fact]
    public async Task QueueDepthAndLag_ReportTheReadyRunsOfTheWorkersQueue()
    {
        var probe = new Probe();
        var queue = TestEngines.NewQueue();
        await using var engine = await TestEngines.Builder(database, output, queue)
            .AddWorkflow(_ => new MeteredGate(probe))
            .ConfigureWorker(w => (w.MaxConcurrentRuns, w.QueueMetricsInterval) = (1, TimeSpan.FromMilliseconds(100)))
            .StartAsync();

        var runs = new List<RunHandle>();
        for (var i = 0; i < 4; i++)
        {
            runs.Add(await engine.Client.StartAsync(nameof(MeteredGate), i));
        }

        // One run holds the only slot; three wait ready in the queue.
        await probe.WaitForAsync("wait", 1);
        await Eventually.HoldsAsync(
            () =>
            {
                _metrics.Observe();
                return _metrics.Of("trellis.queue.depth", "trellis.queue", queue) is [.., { Value: 3 }];
            },
            "the queue depth gauge reports the three ready runs",
            observed: () => $"depths {string.Join(", ", _metrics.Of("trellis.queue.depth", "trellis.queue", queue).Select(m => m.Value))}");
        var lag = _metrics.Of("trellis.queue.lag", "trellis.queue", queue)[^1];
        Assert.Equal("s", lag.Unit);
        Assert.InRange(lag.Value, 0, 30);

        probe.Open("wait");
        foreach (var run in runs)
        {
            await run.GetResultAsync<int>(TimeSpan.FromSeconds(30));
        }

        await Eventually.HoldsAsync(
            () =>
            {
                _metrics.Observe();
                return _metrics.Of("trellis.queue.depth", "trellis.queue", queue) is [.., { Value: 0 }]
                    && _metrics.Of("trellis.queue.lag", "trellis.queue", queue) is [.., { Value: 0 }];
            },
            "the gauges report an empty queue once the runs are done");
    }
}
