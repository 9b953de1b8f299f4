namespace Trellis;

/// <summary>Optional settings for <see cref="TrellisClient.ForkAsync(string, int, ForkOptions?, System.Threading.CancellationToken)"/>.</summary>
public sealed class ForkOptions
{
    /// <summary>
    /// The new run's id, chosen by the caller: an idempotency key, as for <see cref="StartOptions.RunId"/> (forking the
    /// same run from the same step with it again returns the fork made first). When null, a new id is generated.
    /// </summary>
    public string? RunId { get; init; }

    /// <summary>The workflow version the fork runs (a fixed version, registered by some worker). Default: the source run's.</summary>
    public int? WorkflowVersion { get; init; }

    /// <summary>The queue the fork waits in. Default: the source run's.</summary>
    public string? Queue { get; init; }
}
