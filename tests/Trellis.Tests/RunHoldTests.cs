using Microsoft.Extensions.Time.Testing;
using Trellis.Execution;

namespace Trellis.Tests;

public sealed class RunHoldTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    [Fact]
    public void Hold_IsFreshForTheLeaseFromItsConfirmation_ThenStale()
    {
        var time = new FakeTimeProvider();
        var hold = new RunHold(time, Lease, time.GetTimestamp());

        time.Advance(Lease - TimeSpan.FromMilliseconds(1));
        Assert.False(hold.IsStale);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(hold.IsStale);
    }

    [Fact]
    public void Confirm_CountsFromWhenTheRequestWasSent_NotFromItsAnswer()
    {
        var time = new FakeTimeProvider();
        var hold = new RunHold(time, Lease, time.GetTimestamp());
        time.Advance(TimeSpan.FromSeconds(20));
        var sentAt = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(5)); // the answer came this much later
        hold.Confirm(sentAt);

        time.Advance(TimeSpan.FromSeconds(24));
        Assert.False(hold.IsStale);
        time.Advance(TimeSpan.FromSeconds(1)); // a lease after the request was sent
        Assert.True(hold.IsStale);
    }

    [Fact]
    public void Confirm_WithAnOlderRequest_KeepsTheNewerConfirmation()
    {
        var time = new FakeTimeProvider();
        var older = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(10));
        var hold = new RunHold(time, Lease, time.GetTimestamp());

        hold.Confirm(older); // a heartbeat sent before the claim window's close answers after it
        time.Advance(TimeSpan.FromSeconds(25));

        Assert.False(hold.IsStale);
    }
}
