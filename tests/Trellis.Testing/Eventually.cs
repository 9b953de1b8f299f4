namespace Trellis.Testing;

/// <summary>Waits for something a test cannot be told about directly: polls it until it holds.</summary>
public static class Eventually
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Polls <paramref name="condition"/> until it holds, or fails the test after the timeout.</summary>
    public static Task HoldsAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? observed = null) =>
        HoldsAsync(() => Task.FromResult(condition()), what, timeout, observed);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds, or fails the test after the timeout, saying what was awaited
    /// and, from <paramref name="observed"/>, what was seen instead.
    /// </summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<string>? observed = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}" + (observed is null ? "." : $"; {observed()}."));
            }

            await Task.Delay(PollInterval);
        }
    }
}
