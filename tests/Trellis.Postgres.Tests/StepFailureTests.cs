namespace Trellis.Postgres.Tests;

/// <summary>A step that fails: permanent and transient errors, step and run retries, timeouts.</summary>
public sealed class StepFailureTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class FailsWith(Probe probe, Func<int, Exception> failure, StepOptions? options = null) : Workflow<int, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, int input) =>
            context.StepAsync("fails", Task<string> (CancellationToken _) => throw failure(probe.Hit("fails")), options);
    }

    [Fact]
    public async Task StepAsync_PermanentError_FailsAtOnceWithoutRetryingStepOrRun()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new FailsWith(probe, n => new NonRetryableException($"card declined ({n})")))
            .StartAsync();

        var run = await engine.Client.StartAsync<FailsWith>(0);
        var failure = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(1, probe.Count("fails"));
        Assert.Equal(typeof(StepFailedException).FullName, failure.Error!.Type);
        Assert.Contains("card declined (1)", failure.Error.Message, StringComparison.Ordinal);
        Assert.True(failure.Error.Permanent);
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Failed, 1), (info.Status, info.Attempt));
        var step = Assert.Single(await run.GetStepsAsync());
        Assert.Equal((StepStatus.Failed, 1), (step.Status, step.Attempts));
        Assert.Equal(typeof(NonRetryableException).FullName, step.Error!.Type);
    }

    [Fact]
    public async Task StepAsync_ErrorMarkedPermanentByPredicate_FailsAtOnce()
    {
        var probe = new Probe();
        var options = new StepOptions { Retry = TestEngines.QuickRetry with { IsPermanent = e => e is KeyNotFoundException } };
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new FailsWith(probe, _ => new KeyNotFoundException("no such page"), options))
            .StartAsync();

        var run = await engine.Client.StartAsync<FailsWith>(0);
        await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(1, probe.Count("fails"));
        Assert.Equal(1, (await run.GetAsync()).Attempt);
    }

    [Fact]
    public async Task StepAsync_StepAndRunRetriesAtTheirDefaults_TheStepRunsItsAttemptsOnce_AndTheRunFails()
    {
        var probe = new Probe();
        var builder = TestEngines.Builder(database, output)
            .AddWorkflow(_ => new FailsWith(probe, n => new TimeoutException($"timeout {n}"), new StepOptions { Retry = TestEngines.QuickRetry with { MaxAttempts = 2 } }));
        builder.Options.RunRetry = new TrellisOptions().RunRetry;
        await using var engine = await builder.StartAsync();

        var run = await engine.Client.StartAsync<FailsWith>(0);
        var failure = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(2, probe.Count("fails"));
        Assert.Equal(typeof(StepFailedException).FullName, failure.Error!.Type);
        Assert.Equal((RunStatus.Failed, 1), ((await run.GetAsync()).Status, (await run.GetAsync()).Attempt));
    }

    [Fact]
    public async Task StepAsync_RunRetriesConfigured_AStepThatFailedForGoodIsNotRunAgain_TheRunFailsAtOnce()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output) // run retries: 3 attempts
            .AddWorkflow(_ => new FailsWith(probe, n => new TimeoutException($"timeout {n}")))
            .StartAsync();

        var run = await engine.Client.StartAsync<FailsWith>(0);
        await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(3, probe.Count("fails")); // the step's own attempts, once
        Assert.Equal(1, (await run.GetAsync()).Attempt);
    }

    [Theory]
    [InlineData(typeof(NullReferenceException))]
    [InlineData(typeof(ArgumentOutOfRangeException))]
    [InlineData(typeof(InvalidCastException))]
    [InlineData(typeof(NotImplementedException))]
    [InlineData(typeof(FormatException))]
    [InlineData(typeof(System.Text.Json.JsonException))]
    public async Task StepAsync_ProgrammingError_IsPermanent_OneAttempt(Type error)
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output)
            .AddWorkflow(_ => new FailsWith(probe, _ => (Exception)Activator.CreateInstance(error)!))
            .StartAsync();

        var run = await engine.Client.StartAsync<FailsWith>(0);
        var failure = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(1, probe.Count("fails"));
        Assert.True(failure.Error!.Permanent);
        Assert.Equal(error.FullName, Assert.Single(await run.GetStepsAsync()).Error!.Type);
    }

    [Fact]
    public async Task StepAsync_TransientErrorEveryTime_WithFailedStepsRunAgainOnRunRetry_RetriedByStepThenByRun()
    {
        var probe = new Probe();
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new FailsWith(probe, n => new TimeoutException($"timeout {n}")));
        builder.Options.RetryFailedStepsOnRunRetry = true;
        await using var engine = await builder.StartAsync();

        var run = await engine.Client.StartAsync<FailsWith>(0);
        var failure = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        // 3 run attempts × 3 step attempts; every attempt's error is kept on the step row.
        Assert.Equal(9, probe.Count("fails"));
        Assert.False(failure.Error!.Permanent);
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Failed, 3), (info.Status, info.Attempt));
        var step = Assert.Single(await run.GetStepsAsync());
        Assert.Equal((StepStatus.Failed, 9), (step.Status, step.Attempts));
        Assert.Equal(Enumerable.Range(1, 9).Select(n => $"timeout {n}"), step.AttemptErrors.Select(e => e.Message));
    }

    private sealed class SlowStep(Probe probe) : Workflow<int, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, int input) =>
            context.StepAsync("slow", async ct =>
            {
                probe.Hit("slow");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(30), ct);
                }
                catch (OperationCanceledException)
                {
                    probe.Hit("token-cancelled");
                    throw;
                }

                return "too late";
            }, new StepOptions { Timeout = TimeSpan.FromMilliseconds(200), Retry = TestEngines.QuickRetry with { MaxAttempts = 2 } });
    }

    [Fact]
    public async Task StepAsync_Timeout_CancelsTheBodyTokenAndCountsAsFailedAttempt()
    {
        var probe = new Probe();
        var builder = TestEngines.Builder(database, output).AddWorkflow(_ => new SlowStep(probe));
        builder.Options.RunRetry = RetryPolicy.None;
        await using var engine = await builder.StartAsync();

        var run = await engine.Client.StartAsync<SlowStep>(0);
        await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(2, probe.Count("slow"));
        // A timed-out body is abandoned, not awaited: its own reaction to the cancelled token may come after the failure.
        await probe.WaitForAsync("token-cancelled", 2, TimeSpan.FromSeconds(10));
        Assert.Equal(2, probe.Count("token-cancelled"));
        var step = Assert.Single(await run.GetStepsAsync());
        Assert.Equal((StepStatus.Failed, 2), (step.Status, step.Attempts));
        Assert.All(step.AttemptErrors, e => Assert.Equal(typeof(StepTimeoutException).FullName, e.Type));
    }

    private sealed class FailsTwiceThenWorks(Probe probe) : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var step = await context.StepAsync("before", _ => Task.FromResult(probe.Hit("before")));
            return context.Attempt < 3 ? throw new InvalidOperationException($"attempt {context.Attempt}") : step + context.Attempt;
        }
    }

    [Fact]
    public async Task Run_AttemptFails_IsRetriedWithBackoffAndCompletedStepsAreKept()
    {
        var probe = new Probe();
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new FailsTwiceThenWorks(probe)).StartAsync();

        var run = await engine.Client.StartAsync<FailsTwiceThenWorks>(0);
        Assert.Equal(4, await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(1, probe.Count("before"));
        var info = await run.GetAsync();
        Assert.Equal((RunStatus.Completed, 3), (info.Status, info.Attempt));
        Assert.Null(info.Error);
    }
}
