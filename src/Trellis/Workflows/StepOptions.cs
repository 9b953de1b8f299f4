namespace Trellis;

/// <summary>Per-step settings.</summary>
public sealed record StepOptions
{
    /// <summary>Retries of this step. Default: <see cref="TrellisOptions.StepRetry"/>.</summary>
    public RetryPolicy? Retry { get; init; }

    /// <summary>
    /// How long one attempt may run. When it passes, the body's cancellation token is cancelled and the
    /// attempt fails with a <see cref="StepTimeoutException"/>, which is retried like any transient error.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    internal void Validate(string stepName)
    {
        Retry?.Validate($"Step '{stepName}'");
        if (Timeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Step '{stepName}': the timeout must be positive (was {timeout}).");
        }
    }
}
