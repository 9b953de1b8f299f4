namespace Trellis.Execution;

/// <summary>
/// A call a run's workflow code makes to the store itself (a wait, the clock), outside the checkpoint writer, which
/// retries on its own. A failure the store calls transient (the database restarting, a dropped connection), as the
/// checkpoint writer judges it, is tried again, as long as
/// the run goes on and this worker still holds it, so that a blip of the store does not fail the run.
/// </summary>
internal static class StoreCalls
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);

    /// <summary>About a minute of tries; an error that lasts longer is not a blip, and fails the run's attempt.</summary>
    private const int MaxTries = 35;

    public static async Task<T> RetryAsync<T>(RunExecution run, Func<CancellationToken, Task<T>> call)
    {
        var delay = FirstDelay;
        for (var tries = 1; ; tries++)
        {
            try
            {
                return await call(run.StopToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (tries < MaxTries && !run.StopToken.IsCancellationRequested && run.Services.IsTransient(ex))
            {
                await Task.Delay(delay, run.Services.Time, run.StopToken).ConfigureAwait(false);
                delay = delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
                await run.EnsureHeldAsync().ConfigureAwait(false); // while the store is away, the hold runs out: then this stops
            }
        }
    }
}
