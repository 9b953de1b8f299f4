using System.Diagnostics;
using Trellis.Concurrency;

namespace Trellis.Tests;

public class AsyncSignalTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task WaitAsync_SetBeforeWait_ReturnsTrueImmediately()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        signal.Set();

        var stopwatch = Stopwatch.StartNew();
        var signalled = await signal.WaitAsync(Long, CancellationToken.None);

        Assert.True(signalled);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task WaitAsync_NoSet_ReturnsFalseAfterTimeout()
    {
        var signal = new AsyncSignal(TimeProvider.System);

        var stopwatch = Stopwatch.StartNew();
        var signalled = await signal.WaitAsync(Short, CancellationToken.None);

        Assert.False(signalled);
        Assert.True(stopwatch.Elapsed >= Short - TimeSpan.FromMilliseconds(20), $"returned after {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task WaitAsync_ManySetsBeforeWait_CoalesceIntoOneWakeUp()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        for (var i = 0; i < 100; i++)
        {
            signal.Set();
        }

        Assert.True(await signal.WaitAsync(Long, CancellationToken.None));
        Assert.False(await signal.WaitAsync(Short, CancellationToken.None));
    }

    [Fact]
    public async Task WaitAsync_SetDuringWait_WakesIt()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        var stopwatch = Stopwatch.StartNew();

        var wait = signal.WaitAsync(Long, CancellationToken.None);
        await Task.Delay(20);
        Assert.False(wait.IsCompleted);
        signal.Set();

        Assert.True(await wait);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(4), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task WaitAsync_SetAfterWakeUp_WakesTheNextWait()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        signal.Set();
        Assert.True(await signal.WaitAsync(Long, CancellationToken.None));

        // A notification arriving while the caller works on the previous wake-up must not be lost.
        signal.Set();

        Assert.True(await signal.WaitAsync(Long, CancellationToken.None));
    }

    [Fact]
    public async Task WaitAsync_AfterTimeout_StillWakesOnLaterSet()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        Assert.False(await signal.WaitAsync(TimeSpan.FromMilliseconds(10), CancellationToken.None));

        var wait = signal.WaitAsync(Long, CancellationToken.None);
        signal.Set();

        Assert.True(await wait);
    }

    [Fact]
    public async Task Reset_SetBefore_DoesNotWakeTheNextWait()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        signal.Set(); // e.g. the listener's first look, before the claim that answers it

        signal.Reset();

        Assert.False(await signal.WaitAsync(Short, CancellationToken.None));
    }

    [Fact]
    public async Task Reset_SetAfter_WakesTheNextWait()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        signal.Set();
        signal.Reset();

        signal.Set(); // arrived while the claim was in flight: the claim may not have seen it

        Assert.True(await signal.WaitAsync(Long, CancellationToken.None));
    }

    [Fact]
    public async Task WaitAsync_Cancelled_ThrowsOperationCanceled()
    {
        var signal = new AsyncSignal(TimeProvider.System);
        using var cts = new CancellationTokenSource();

        var wait = signal.WaitAsync(Long, cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }
}
