namespace Trellis;

/// <summary>
/// How often, and how far apart, a failing step (or run) is attempted again.
/// Delays grow exponentially from <see cref="InitialDelay"/> by <see cref="BackoffCoefficient"/>,
/// are capped at <see cref="MaxDelay"/>, and are spread by ±<see cref="Jitter"/> so that many
/// failing runs do not retry in lock-step.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>3 attempts, 1 s then 2 s apart, at most 1 min, 20 % jitter.</summary>
    public static RetryPolicy Default { get; } = new();

    /// <summary>One attempt: a failure is final.</summary>
    public static RetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>Total attempts including the first. Must be at least 1.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>The delay before the second attempt. Default 1 s.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>What each later delay is multiplied by; at least 1. Default 2.</summary>
    public double BackoffCoefficient { get; init; } = 2.0;

    /// <summary>The longest delay between attempts, before jitter. Default 1 min.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Fraction of the delay to randomise, 0–1. Default 0.2 (±20 %).</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>
    /// Marks more errors as permanent: when it returns true for an exception, the step fails at once.
    /// Checked before the built-in classification.
    /// </summary>
    public Func<Exception, bool>? IsPermanent { get; init; }

    /// <summary>The delay before attempt <paramref name="nextAttempt"/> (2 for the first retry).</summary>
    public TimeSpan DelayBefore(int nextAttempt, Random? random = null)
    {
        if (nextAttempt <= 1)
        {
            return TimeSpan.Zero;
        }

        var exponent = Math.Min(nextAttempt - 2, 62);
        var raw = InitialDelay.TotalMilliseconds * Math.Pow(BackoffCoefficient, exponent);
        var capped = Math.Min(raw, MaxDelay.TotalMilliseconds);
        if (Jitter > 0)
        {
            var spread = ((random ?? Random.Shared).NextDouble() * 2 - 1) * Jitter;
            capped *= 1 + spread;
        }

        // Jitter may push a delay past MaxDelay by its fraction, but never past what a TimeSpan holds.
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds * (1 + Jitter), TimeSpan.MaxValue.TotalMilliseconds - 1);
        return TimeSpan.FromMilliseconds(Math.Max(0, Math.Min(capped, ceiling)));
    }

    /// <summary>Throws when the policy cannot work, with the reason.</summary>
    public void Validate(string owner)
    {
        if (MaxAttempts < 1)
        {
            throw new ArgumentException($"{owner}: RetryPolicy.MaxAttempts must be at least 1 (was {MaxAttempts}).");
        }

        if (InitialDelay < TimeSpan.Zero || MaxDelay < TimeSpan.Zero)
        {
            throw new ArgumentException($"{owner}: RetryPolicy delays must not be negative.");
        }

        if (!(BackoffCoefficient >= 1) || double.IsInfinity(BackoffCoefficient))
        {
            throw new ArgumentException($"{owner}: RetryPolicy.BackoffCoefficient must be at least 1 (was {BackoffCoefficient}).");
        }

        if (!(Jitter is >= 0 and <= 1))
        {
            throw new ArgumentException($"{owner}: RetryPolicy.Jitter must be between 0 and 1 (was {Jitter}).");
        }
    }
}
