using Trellis.Execution;

namespace Trellis.Tests;

public class SlotCounterTests
{
    [Fact]
    public void EndClaim_LocalStartsTookTheSlotsMeanwhile_ReportsTheRunsOverCapacity()
    {
        var slots = new SlotCounter(capacity: 4);
        var requested = slots.TryTakeForClaim(4);

        // Starts in this process need only slots not held by runs; the claim in flight holds none yet.
        Assert.True(slots.TryTakeForLocalStart());
        Assert.True(slots.TryTakeForLocalStart());
        Assert.True(slots.TryTakeForLocalStart());

        Assert.Equal(4, requested);
        Assert.Equal(2, slots.EndClaim(requested, claimed: 3)); // 3 local + 3 claimed on 4 slots
        Assert.False(slots.TryTakeForLocalStart());

        // The two runs over capacity give their slots back, like any run that ends: the worker is at its limit.
        slots.Release();
        slots.Release();
        Assert.Equal(0, slots.TryTakeForClaim(4));
        slots.Release();
        Assert.Equal(1, slots.TryTakeForClaim(4));
    }

    [Fact]
    public void EndClaim_WithinCapacity_ReportsNoneOver()
    {
        var slots = new SlotCounter(capacity: 4);
        var requested = slots.TryTakeForClaim(4);
        Assert.True(slots.TryTakeForLocalStart());

        Assert.Equal(0, slots.EndClaim(requested, claimed: 3));
        Assert.False(slots.TryTakeForLocalStart());
    }
}
