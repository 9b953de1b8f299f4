namespace Trellis.Tests;

public class OptionsTests
{
    [Fact]
    public void Validate_Defaults_DoNotThrow()
    {
        var options = new TrellisOptions();

        Assert.Null(Record.Exception(options.Validate));
        Assert.Null(Record.Exception(new WorkerOptions().Validate));
    }

    [Fact]
    public void Defaults_HaveDocumentedValues()
    {
        var options = new TrellisOptions();

        Assert.Equal("default", options.DefaultQueue);
        Assert.Equal(1024 * 1024, options.MaxInputBytes);
        Assert.Equal(32, options.Worker.MaxConcurrentRuns);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Worker.LeaseDuration);
        Assert.Null(options.Worker.HeartbeatInterval);
        Assert.False(string.IsNullOrWhiteSpace(options.Worker.WorkerId));
    }

    [Fact]
    public void EffectiveHeartbeatInterval_Default_IsAThirdOfLease()
    {
        var worker = new WorkerOptions();

        Assert.Equal(TimeSpan.FromSeconds(10), worker.EffectiveHeartbeatInterval);

        worker.LeaseDuration = TimeSpan.FromSeconds(90);
        Assert.Equal(TimeSpan.FromSeconds(30), worker.EffectiveHeartbeatInterval);
    }

    [Fact]
    public void EffectiveHeartbeatInterval_Set_IsUsedAsIs()
    {
        var worker = new WorkerOptions { HeartbeatInterval = TimeSpan.FromSeconds(4) };

        Assert.Equal(TimeSpan.FromSeconds(4), worker.EffectiveHeartbeatInterval);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void WorkerValidate_MaxConcurrentRunsBelowOne_ThrowsNamingOption(int value)
    {
        AssertRejects(w => w.MaxConcurrentRuns = value, "MaxConcurrentRuns");
    }

    [Fact]
    public void WorkerValidate_LeaseDurationUnderOneSecond_ThrowsNamingOption()
    {
        AssertRejects(w => w.LeaseDuration = TimeSpan.FromMilliseconds(500), "LeaseDuration");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(15_000)]
    public void WorkerValidate_ClaimWindowNegativeOrHalfTheLease_ThrowsNamingOption(int milliseconds)
    {
        AssertRejects(w =>
        {
            w.LeaseDuration = TimeSpan.FromSeconds(30);
            w.ClaimWindow = TimeSpan.FromMilliseconds(milliseconds);
        }, "ClaimWindow");
    }

    [Theory]
    [InlineData(30)]
    [InlineData(31)]
    public void WorkerValidate_HeartbeatNotShorterThanLease_ThrowsNamingOption(int heartbeatSeconds)
    {
        AssertRejects(w =>
        {
            w.LeaseDuration = TimeSpan.FromSeconds(30);
            w.HeartbeatInterval = TimeSpan.FromSeconds(heartbeatSeconds);
        }, "HeartbeatInterval");
    }

    [Fact]
    public void WorkerValidate_ZeroHeartbeat_ThrowsNamingOption()
    {
        AssertRejects(w => w.HeartbeatInterval = TimeSpan.Zero, "HeartbeatInterval");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void WorkerValidate_EmptyWorkerId_ThrowsNamingOption(string workerId)
    {
        AssertRejects(w => w.WorkerId = workerId, "WorkerId");
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void WorkerValidate_BlankQueueName_ThrowsNamingOption(string queue)
    {
        AssertRejects(w => w.Queues = ["orders", queue], "Queues");
    }

    [Fact]
    public void WorkerValidate_ClaimBatchSizeZero_ThrowsNamingOption()
    {
        AssertRejects(w => w.ClaimBatchSize = 0, "ClaimBatchSize");
    }

    [Fact]
    public void WorkerValidate_ZeroPollInterval_ThrowsNamingOption()
    {
        AssertRejects(w => w.PollInterval = TimeSpan.Zero, "PollInterval");
    }

    [Fact]
    public void WorkerValidate_MaxCheckpointBatchZero_ThrowsNamingOption()
    {
        AssertRejects(w => w.MaxCheckpointBatch = 0, "MaxCheckpointBatch");
    }

    [Fact]
    public void WorkerValidate_ShortLeaseWithDefaultHeartbeat_IsAccepted()
    {
        var worker = new WorkerOptions { LeaseDuration = TimeSpan.FromSeconds(1), Queues = ["a", "b"] };

        Assert.Null(Record.Exception(worker.Validate));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(15)]
    public void Validate_MaxInputBytesTooSmall_ThrowsNamingOption(int value)
    {
        var options = new TrellisOptions { MaxInputBytes = value };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("MaxInputBytes", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Validate_BlankDefaultQueue_ThrowsNamingOption(string queue)
    {
        var options = new TrellisOptions { DefaultQueue = queue };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("DefaultQueue", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ZeroResultPollInterval_ThrowsNamingOption()
    {
        var options = new TrellisOptions { ResultPollInterval = TimeSpan.Zero };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("ResultPollInterval", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NegativeMaxWorkerLosses_ThrowsNamingOption_AndZeroIsAllowed()
    {
        var ex = Assert.Throws<ArgumentException>(new TrellisOptions { MaxWorkerLosses = -1 }.Validate);

        Assert.Contains("MaxWorkerLosses", ex.Message, StringComparison.Ordinal);
        new TrellisOptions { MaxWorkerLosses = 0 }.Validate();
    }

    [Fact]
    public void Validate_InvalidStepRetry_ThrowsNamingStepRetry()
    {
        var options = new TrellisOptions { StepRetry = new RetryPolicy { MaxAttempts = 0 } };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("TrellisOptions.StepRetry", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_InvalidRunRetry_ThrowsNamingRunRetry()
    {
        var options = new TrellisOptions { RunRetry = new RetryPolicy { Jitter = 2 } };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("TrellisOptions.RunRetry", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_InvalidWorkerOption_IsReportedByTrellisOptionsToo()
    {
        var options = new TrellisOptions();
        options.Worker.MaxConcurrentRuns = 0;

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("MaxConcurrentRuns", ex.Message, StringComparison.Ordinal);
    }

    private static void AssertRejects(Action<WorkerOptions> configure, string optionName)
    {
        var worker = new WorkerOptions();
        configure(worker);

        var ex = Assert.Throws<ArgumentException>(worker.Validate);

        Assert.Contains(optionName, ex.Message, StringComparison.Ordinal);
    }
}
