using Microsoft.Extensions.Time.Testing;
using Trellis.Concurrency;

namespace Trellis.Tests;

/// <summary>The claim loop's wake-up flag, on a clock the test moves: a timeout passes only when the test says so.</summary>
public class AsyncSignalTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task WaitAsync_SetBeforeWait_ReturnsTrueWithoutWaiting()
    {
        var signal = new AsyncSignal(_time);
        signal.Set();

        var wait = signal.WaitAsync(Timeout, CancellationToken.None);

        Assert.True(wait.IsCompleted);
        Assert.True(await wait);
    }

    [Fact]
    public async Task WaitAsync_NoSet_ReturnsFalseOnceTheTimeoutHasPassed_NotBefore()
    {
        var signal = new AsyncSignal(_time);

        var wait = signal.WaitAsync(Timeout, CancellationToken.None);
        _time.Advance(Timeout - TimeSpan.FromMilliseconds(1));
        Assert.False(wait.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.False(await wait);
    }

    [Fact]
    public async Task WaitAsync_ManySetsBeforeWait_CoalesceIntoOneWakeUp()
    {
        var signal = new AsyncSignal(_time);
        for (var i = 0; i < 100; i++)
        {
            signal.Set();
        }

        Assert.True(await signal.WaitAsync(Timeout, CancellationToken.None));
        var next = signal.WaitAsync(Timeout, CancellationToken.None);
        Assert.False(next.IsCompleted);
        _time.Advance(Timeout);
        Assert.False(await next);
    }

    [Fact]
    public async Task WaitAsync_SetDuringWait_WakesIt()
    {
        var signal = new AsyncSignal(_time);

        var wait = signal.WaitAsync(Timeout, CancellationToken.None);
        Assert.False(wait.IsCompleted);
        signal.Set();

        Assert.True(await wait);
    }

    [Fact]
    public async Task WaitAsync_SetAfterWakeUp_WakesTheNextWait()
    {
        var signal = new AsyncSignal(_time);
        signal.Set();
        Assert.True(await signal.WaitAsync(Timeout, CancellationToken.None));

        // A notification arriving while the caller works on the previous wake-up must not be lost.
        signal.Set();

        Assert.True(await signal.WaitAsync(Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task WaitAsync_AfterTimeout_StillWakesOnLaterSet()
    {
        var signal = new AsyncSignal(_time);
        var timedOut = signal.WaitAsync(Timeout, CancellationToken.None);
        _time.Advance(Timeout);
        Assert.False(await timedOut);

        var wait = signal.WaitAsync(Timeout, CancellationToken.None);
        signal.Set();

        Assert.True(await wait);
    }

    [Fact]
    public async Task Reset_SetBefore_DoesNotWakeTheNextWait()
    {
        var signal = new AsyncSignal(_time);
        signal.Set(); // e.g. the listener's first look, before the claim that answers it

        signal.Reset();

        var wait = signal.WaitAsync(Timeout, CancellationToken.None);
        Assert.False(wait.IsCompleted);
        _time.Advance(Timeout);
        Assert.False(await wait);
    }

    [Fact]
    public async Task Reset_SetAfter_WakesTheNextWait()
    {
        var signal = new AsyncSignal(_time);
        signal.Set();
        signal.Reset();

        signal.Set(); // arrived while the claim was in flight: the claim may not have seen it

        Assert.True(await signal.WaitAsync(Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task WaitAsync_Cancelled_ThrowsOperationCanceled()
    {
        var signal = new AsyncSignal(_time);
        using var cts = new CancellationTokenSource();

        var wait = signal.WaitAsync(Timeout, cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }
}
