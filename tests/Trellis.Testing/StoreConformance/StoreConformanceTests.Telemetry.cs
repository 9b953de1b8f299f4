using Trellis.Storage;

namespace Trellis.Testing.StoreConformance;

/// <summary>What the store keeps and reads for telemetry: a run's trace context, and the queue stats behind the gauges.</summary>
public abstract partial class StoreConformanceTests
{
    private const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public async Task ARunsTraceContext_IsStoredAtStart_AndHandedToEveryKindOfClaim()
    {
        await using var store = await NewStoreAsync();
        var traced = NewRunId();
        var untraced = NewRunId();
        await store.CreateRunsAsync([NewRun(traced) with { TraceParent = TraceParent, TraceState = "k=v" }, NewRun(untraced)]);
        var batchQueue = NewQueue();
        var batchIds = new[] { NewRunId(), NewRunId() };
        await store.CreateRunBatchAsync(new NewRunBatch(
            "Wf", 1, batchQueue, 0, batchIds, ["{}", "{}"], null, NoTags, 3, null, null, TraceParent: TraceParent, TraceState: null));

        var claimed = Assert.Single(await store.ClaimAsync(Request(QueueOf(traced))));
        var plain = Assert.Single(await store.ClaimAsync(Request(QueueOf(untraced))));
        await using var window = (await store.OpenClaimWindowAsync(Request(batchQueue, limit: 2)))!;

        Assert.Equal((TraceParent, "k=v"), (claimed.TraceParent, claimed.TraceState));
        Assert.Equal((null, null), (plain.TraceParent, plain.TraceState));
        Assert.Equal(2, window.Runs.Count);
        Assert.All(window.Runs, r => Assert.Equal((TraceParent, (string?)null), (r.TraceParent, r.TraceState)));
    }

    [Fact]
    public async Task QueueStats_CountTheReadyRunsOfEachQueue_AndTheAgeOfTheOldest()
    {
        await using var store = await NewStoreAsync();
        var busy = NewQueue();
        var empty = NewQueue();
        await store.CreateRunsAsync(
        [
            NewRun(NewRunId(), busy),
            NewRun(NewRunId(), busy),
            NewRun(NewRunId(), busy) with { Delay = TimeSpan.FromHours(1) }, // not ready: not counted
        ]);
        var running = NewRunId();
        await store.CreateRunsAsync([NewRun(running, busy) with { Priority = 9 }]);
        Assert.Single(await store.ClaimAsync(Request(busy))); // the highest priority: running now, not counted

        var stats = (await store.GetQueueStatsAsync([busy, empty])).ToDictionary(s => s.Queue);

        Assert.Equal(2, stats[busy].ReadyRuns);
        Assert.InRange(stats[busy].OldestReadyAge, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Assert.Equal((0L, TimeSpan.Zero), (stats[empty].ReadyRuns, stats[empty].OldestReadyAge));
        Assert.Empty(await store.GetQueueStatsAsync([]));
    }
}
