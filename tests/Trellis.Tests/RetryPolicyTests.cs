namespace Trellis.Tests;

public class RetryPolicyTests
{
    private static readonly RetryPolicy NoJitter = new()
    {
        InitialDelay = TimeSpan.FromSeconds(1),
        BackoffCoefficient = 2,
        MaxDelay = TimeSpan.FromMinutes(1),
        Jitter = 0,
    };

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    [InlineData(-5)]
    public void DelayBefore_FirstAttemptOrEarlier_IsZero(int attempt)
    {
        Assert.Equal(TimeSpan.Zero, RetryPolicy.Default.DelayBefore(attempt, new Random(42)));
        Assert.Equal(TimeSpan.Zero, NoJitter.DelayBefore(attempt));
    }

    [Fact]
    public void DelayBefore_NoJitter_GrowsByBackoffCoefficient()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), NoJitter.DelayBefore(2));
        Assert.Equal(TimeSpan.FromSeconds(2), NoJitter.DelayBefore(3));
        Assert.Equal(TimeSpan.FromSeconds(4), NoJitter.DelayBefore(4));
        Assert.Equal(TimeSpan.FromSeconds(8), NoJitter.DelayBefore(5));
    }

    [Fact]
    public void DelayBefore_CoefficientThree_GrowsByThree()
    {
        var policy = NoJitter with { InitialDelay = TimeSpan.FromMilliseconds(100), BackoffCoefficient = 3 };

        Assert.Equal(TimeSpan.FromMilliseconds(100), policy.DelayBefore(2));
        Assert.Equal(TimeSpan.FromMilliseconds(300), policy.DelayBefore(3));
        Assert.Equal(TimeSpan.FromMilliseconds(900), policy.DelayBefore(4));
    }

    [Fact]
    public void DelayBefore_CoefficientOne_StaysConstant()
    {
        var policy = NoJitter with { BackoffCoefficient = 1, InitialDelay = TimeSpan.FromMilliseconds(250) };

        Assert.All(Enumerable.Range(2, 20), attempt => Assert.Equal(TimeSpan.FromMilliseconds(250), policy.DelayBefore(attempt)));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(20)]
    [InlineData(100)]
    [InlineData(int.MaxValue)]
    public void DelayBefore_LateAttempt_IsCappedAtMaxDelay(int attempt)
    {
        var policy = NoJitter with { MaxDelay = TimeSpan.FromSeconds(10) };

        Assert.Equal(TimeSpan.FromSeconds(10), policy.DelayBefore(attempt));
    }

    [Fact]
    public void DelayBefore_WithJitter_StaysWithinJitterOfUnjitteredDelay()
    {
        var policy = new RetryPolicy
        {
            InitialDelay = TimeSpan.FromSeconds(1),
            BackoffCoefficient = 2,
            MaxDelay = TimeSpan.FromMinutes(1),
            Jitter = 0.2,
        };
        var unjittered = policy with { Jitter = 0 };
        var random = new Random(42);

        for (var attempt = 2; attempt <= 6; attempt++)
        {
            var center = unjittered.DelayBefore(attempt).TotalMilliseconds;
            var samples = Enumerable.Range(0, 1000).Select(_ => policy.DelayBefore(attempt, random).TotalMilliseconds).ToList();

            Assert.All(samples, ms => Assert.InRange(ms, center * 0.8 - 1, center * 1.2 + 1));
            // The jitter actually spreads the values, on both sides of the centre.
            Assert.Contains(samples, ms => ms < center * 0.95);
            Assert.Contains(samples, ms => ms > center * 1.05);
        }
    }

    [Fact]
    public void DelayBefore_WithJitterAtCap_NeverExceedsMaxDelayPlusJitter()
    {
        var policy = new RetryPolicy
        {
            InitialDelay = TimeSpan.FromSeconds(1),
            BackoffCoefficient = 2,
            MaxDelay = TimeSpan.FromSeconds(5),
            Jitter = 0.5,
        };
        var random = new Random(42);
        var ceiling = policy.MaxDelay.TotalMilliseconds * 1.5;

        var samples = Enumerable.Range(0, 2000).Select(i => policy.DelayBefore(10 + i % 30, random)).ToList();

        Assert.All(samples, delay =>
        {
            Assert.True(delay >= TimeSpan.Zero, $"negative delay {delay}");
            Assert.True(delay.TotalMilliseconds <= ceiling + 1, $"{delay} exceeds MaxDelay * (1 + Jitter)");
        });
    }

    [Fact]
    public void DelayBefore_SameSeed_IsReproducible()
    {
        var policy = new RetryPolicy();
        var a = new Random(42);
        var b = new Random(42);

        Assert.All(Enumerable.Range(2, 10), attempt => Assert.Equal(policy.DelayBefore(attempt, a), policy.DelayBefore(attempt, b)));
    }

    [Fact]
    public void DelayBefore_MaxDelayIsTimeSpanMaxValue_DoesNotOverflow()
    {
        // "No cap": a retry-forever policy whose delays keep doubling. Once the raw delay reaches the cap
        // (attempt 42 here), a positive jitter pushes it past TimeSpan.MaxValue and TimeSpan.FromMilliseconds
        // throws OverflowException instead of returning a delay (RetryPolicy.DelayBefore, final return).
        var policy = new RetryPolicy { MaxDelay = TimeSpan.MaxValue, Jitter = 0.2, MaxAttempts = int.MaxValue };
        var random = new Random(42);

        for (var attempt = 2; attempt <= 100; attempt++)
        {
            var delay = policy.DelayBefore(attempt, random);
            Assert.True(delay > TimeSpan.Zero);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Validate_MaxAttemptsBelowOne_ThrowsNamingOwner(int maxAttempts)
    {
        var ex = Assert.Throws<ArgumentException>(() => new RetryPolicy { MaxAttempts = maxAttempts }.Validate("Step 'charge'"));

        Assert.StartsWith("Step 'charge'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxAttempts", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NegativeInitialDelay_ThrowsNamingOwner()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RetryPolicy { InitialDelay = TimeSpan.FromSeconds(-1) }.Validate("MyOwner"));

        Assert.Contains("MyOwner", ex.Message, StringComparison.Ordinal);
        Assert.Contains("negative", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NegativeMaxDelay_ThrowsNamingOwner()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RetryPolicy { MaxDelay = TimeSpan.FromMilliseconds(-1) }.Validate("MyOwner"));

        Assert.Contains("MyOwner", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.99)]
    [InlineData(0)]
    [InlineData(-2)]
    public void Validate_BackoffCoefficientBelowOne_ThrowsNamingOwner(double coefficient)
    {
        var ex = Assert.Throws<ArgumentException>(() => new RetryPolicy { BackoffCoefficient = coefficient }.Validate("MyOwner"));

        Assert.Contains("MyOwner", ex.Message, StringComparison.Ordinal);
        Assert.Contains("BackoffCoefficient", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1.01)]
    [InlineData(-0.1)]
    public void Validate_JitterOutsideZeroToOne_ThrowsNamingOwner(double jitter)
    {
        var ex = Assert.Throws<ArgumentException>(() => new RetryPolicy { Jitter = jitter }.Validate("MyOwner"));

        Assert.Contains("MyOwner", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Jitter", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NaNJitter_Throws()
    {
        // NaN passes "is < 0 or > 1", and DelayBefore then throws on every retry.
        var ex = Assert.Throws<ArgumentException>(() => new RetryPolicy { Jitter = double.NaN }.Validate("MyOwner"));

        Assert.Contains("Jitter", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NaNBackoffCoefficient_Throws()
    {
        // NaN passes "< 1", and DelayBefore then throws from the second retry on.
        var ex = Assert.Throws<ArgumentException>(() => new RetryPolicy { BackoffCoefficient = double.NaN }.Validate("MyOwner"));

        Assert.Contains("BackoffCoefficient", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Validate_BoundaryValues_AreAccepted(double jitter)
    {
        var policy = new RetryPolicy { MaxAttempts = 1, InitialDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, BackoffCoefficient = 1, Jitter = jitter };

        var ex = Record.Exception(() => policy.Validate("MyOwner"));

        Assert.Null(ex);
    }

    [Fact]
    public void Default_Validates_AndHasDocumentedValues()
    {
        RetryPolicy.Default.Validate("Default");

        Assert.Equal(3, RetryPolicy.Default.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(1), RetryPolicy.Default.InitialDelay);
        Assert.Equal(2.0, RetryPolicy.Default.BackoffCoefficient);
        Assert.Equal(TimeSpan.FromMinutes(1), RetryPolicy.Default.MaxDelay);
        Assert.Equal(0.2, RetryPolicy.Default.Jitter);
    }

    [Fact]
    public void None_HasOneAttempt()
    {
        Assert.Equal(1, RetryPolicy.None.MaxAttempts);
        RetryPolicy.None.Validate("None");
    }
}
