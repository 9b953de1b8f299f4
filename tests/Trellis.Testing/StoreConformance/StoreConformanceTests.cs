using System.Text.Json.Nodes;
using Trellis.Storage;

namespace Trellis.Testing.StoreConformance;

/// <summary>
/// The contract every <see cref="IWorkflowStore"/> keeps, written against the interface alone. A store's test project
/// derives a class from this one that makes its stores (migrated, on a database of the class's own), and every test
/// here runs against it. Each test works in queues and names of its own, so tests share the database freely.
/// </summary>
public abstract partial class StoreConformanceTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static readonly Dictionary<string, string> NoTags = [];

    /// <summary>A store on this class's database, migrated. The test disposes it.</summary>
    protected abstract Task<IWorkflowStore> NewStoreAsync();

    [Fact]
    public async Task ACreatedRun_IsReadBackPending_WithWhatWasGiven()
    {
        await using var store = await NewStoreAsync();
        var runId = NewRunId();
        var tags = new Dictionary<string, string> { ["customer"] = "c-7" };

        var created = Assert.Single(await store.CreateRunsAsync([NewRun(runId) with { Priority = 5, CorrelationId = "order-9", Tags = tags, InputJson = """{"n":1}""" }]));

        Assert.Equal((runId, true, false), (created.Id, created.Created, created.Claimed));
        var run = (await store.GetRunAsync(runId))!;
        Assert.Equal((RunStatus.Pending, "Wf", 1, QueueOf(runId), 5, "order-9", 0), (run.Status, run.WorkflowName, run.WorkflowVersion, run.Queue, run.Priority, run.CorrelationId, run.Attempt));
        Assert.Equal(tags, run.Tags);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"n":1}"""), JsonNode.Parse(run.InputJson!)), run.InputJson);
        Assert.Null(await store.GetRunAsync(NewRunId()));
    }

    [Fact]
    public async Task CreatingARunIdAgain_CreatesNothing_AndSaysWhetherTheInputWasTheSame()
    {
        await using var store = await NewStoreAsync();
        var runId = NewRunId();
        await store.CreateRunsAsync([NewRun(runId) with { InputJson = """{"a":1,"b":2}""" }]);

        var same = Assert.Single(await store.CreateRunsAsync([NewRun(runId) with { InputJson = """{ "b": 2, "a": 1 }""" }]));
        var different = Assert.Single(await store.CreateRunsAsync([NewRun(runId) with { InputJson = """{"a":2}""" }]));

        Assert.Equal((false, true, "Wf"), (same.Created, same.SameInput, same.WorkflowName));
        Assert.Equal((false, false), (different.Created, different.SameInput));
    }

    [Fact]
    public async Task AClaim_TakesOnlyReadyRuns_OfItsQueuesAndWorkflowVersions_HighestPriorityFirst_AndEachOnce()
    {
        await using var store = await NewStoreAsync();
        var queue = NewQueue();
        string[] ids = [NewRunId(), NewRunId(), NewRunId(), NewRunId()];
        await store.CreateRunsAsync(
        [
            NewRun(ids[0], queue) with { Priority = 1 },
            NewRun(ids[1], queue) with { Priority = 9 },
            NewRun(ids[2], queue) with { WorkflowVersion = 2 },
            NewRun(ids[3], queue) with { ScheduledAt = DateTimeOffset.UtcNow.AddHours(1) },
        ]);
        await store.CreateRunsAsync([NewRun(NewRunId(), NewQueue())]);

        var first = Assert.Single(await store.ClaimAsync(Request(queue, limit: 1)));
        var rest = await store.ClaimAsync(Request(queue, limit: 10));

        Assert.Equal(ids[1], first.Id);
        Assert.Equal([ids[0]], rest.Select(r => r.Id));
        Assert.Equal((1, false), (first.Attempt, first.StartedBefore));
        Assert.Empty(await store.ClaimAsync(Request(queue, limit: 10)));
        var running = (await store.GetRunAsync(first.Id))!;
        Assert.Equal((RunStatus.Running, "w", first.Epoch), (running.Status, running.LockedBy, running.Epoch));
        Assert.NotNull(running.LeaseExpiresAt);
    }

    [Fact]
    public async Task EveryClaim_HasAnEpochOfItsOwn_AndWritesUnderAnEarlierOne_AreRefused()
    {
        await using var store = await NewStoreAsync();
        var runId = NewRunId();
        await store.CreateRunsAsync([NewRun(runId)]);
        var lost = Assert.Single(await store.ClaimAsync(Request(QueueOf(runId), lease: TimeSpan.FromSeconds(-1))));
        Assert.True(await store.RecoverExpiredLeasesAsync(100) >= 1);
        var current = Assert.Single(await store.ClaimAsync(Request(QueueOf(runId))));
        Assert.NotEqual(lost.Epoch, current.Epoch);
        Assert.True(current.StartedBefore);

        var stale = new CheckpointBatch();
        stale.Steps.Add(Step(runId, lost.Epoch, "late"));
        stale.Finishes.Add(new RunFinish { RunId = runId, Epoch = lost.Epoch, Kind = RunFinishKind.Completed, OutputJson = "1" });
        await store.CommitAsync(stale);

        Assert.All(stale.All(), write => Assert.False(write.Applied));
        Assert.Empty(await store.GetStepsAsync(runId));
        Assert.Equal(RunStatus.Running, (await store.GetRunAsync(runId))!.Status);
        // A lease renewal answers for the runs still held, with whether a cancel was asked for; a lost one is missing.
        Assert.Empty(await store.RenewLeasesAsync("w", [new RunLease(runId, lost.Epoch)], Lease));
        Assert.False(Assert.Contains(runId, await store.RenewLeasesAsync("w", [new RunLease(runId, current.Epoch)], Lease)));
    }

    [Fact]
    public async Task StepsWrittenUnderTheClaim_AreReadBackInOrder_AndAnUpdateReplacesTheRow()
    {
        await using var store = await NewStoreAsync();
        var runId = NewRunId();
        await store.CreateRunsAsync([NewRun(runId)]);
        var claimed = Assert.Single(await store.ClaimAsync(Request(QueueOf(runId))));

        var batch = new CheckpointBatch();
        batch.Steps.Add(Step(runId, claimed.Epoch, "pages", sequence: 1, item: 1));
        batch.Steps.Add(Step(runId, claimed.Epoch, "load", sequence: 0));
        batch.Steps.Add(Step(runId, claimed.Epoch, "pages", sequence: 1, item: 0) with { Status = StepStatus.Running, ResultJson = null, CompletedAt = null });
        await store.CommitAsync(batch);
        var update = new CheckpointBatch();
        update.Steps.Add(Step(runId, claimed.Epoch, "pages", sequence: 1, item: 0) with { ResultJson = "\"page 0\"", Attempts = 2 });
        await store.CommitAsync(update);

        var steps = await store.GetStepsAsync(runId);
        Assert.Equal([(0, (int?)null), (1, 0), (1, 1)], steps.Select(s => (s.Sequence, s.ItemIndex)));
        Assert.All(steps, s => Assert.Equal((StepStatus.Completed, claimed.Epoch), (s.Status, s.Epoch)));
        Assert.Equal(("\"page 0\"", 2), (steps[1].ResultJson, steps[1].Attempts));
    }

    [Fact]
    public async Task CancellingAPendingRun_CancelsItAtOnce_AndARunningOne_WhenItsWorkerFinishes()
    {
        await using var store = await NewStoreAsync();
        var (pending, running) = (NewRunId(), NewRunId());
        await store.CreateRunsAsync([NewRun(pending, NewQueue()), NewRun(running)]);
        var claimed = Assert.Single(await store.ClaimAsync(Request(QueueOf(running))));

        var cancelledNow = (await store.RequestCancelAsync(pending))!;
        var asked = (await store.RequestCancelAsync(running))!;

        Assert.Equal((RunStatus.Cancelled, true), (cancelledNow.Status, cancelledNow.CompletedAt is not null));
        Assert.Equal((RunStatus.Running, true), (asked.Status, asked.CancelRequested));
        var batch = new CheckpointBatch();
        var completed = new RunFinish { RunId = running, Epoch = claimed.Epoch, Kind = RunFinishKind.Completed, OutputJson = "1" };
        batch.Finishes.Add(completed);
        await store.CommitAsync(batch);
        Assert.True(completed.CancelledInstead);
        Assert.Equal(RunStatus.Cancelled, (await store.GetRunAsync(running))!.Status);
        Assert.Null(await store.RequestCancelAsync(NewRunId()));
    }

    [Fact]
    public async Task ALeaderLease_IsHeldByOneHolderAtATime_RenewedByIt_AndFreeOnceReleasedOrRunOut()
    {
        await using var store = await NewStoreAsync();
        var name = $"lease-{Guid.NewGuid():N}";

        Assert.True(await store.TryHoldLeaderLeaseAsync(name, "a", Lease));
        Assert.False(await store.TryHoldLeaderLeaseAsync(name, "b", Lease));
        Assert.True(await store.TryHoldLeaderLeaseAsync(name, "a", Lease)); // renewed
        await store.ReleaseLeaderLeaseAsync(name, "b"); // not b's to give up
        Assert.False(await store.TryHoldLeaderLeaseAsync(name, "b", Lease));
        await store.ReleaseLeaderLeaseAsync(name, "a");
        Assert.True(await store.TryHoldLeaderLeaseAsync(name, "b", TimeSpan.FromMilliseconds(1)));

        // b's lease runs out on the store's clock, and then it is a's to take.
        await Eventually.HoldsAsync(() => store.TryHoldLeaderLeaseAsync(name, "a", Lease), "a took the lease after b's ran out");
        Assert.False(await store.TryHoldLeaderLeaseAsync(name, "b", Lease));
    }

    [Fact]
    public async Task WakingDueRuns_MakesThemReady_LeavesTheOthersWaiting_AndSaysWhenTheNextIsDue()
    {
        await using var store = await NewStoreAsync();
        var now = await store.GetTimeAsync();
        Assert.InRange(now, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        var (due, later, forGood) = (NewRunId(), NewRunId(), NewRunId());
        await store.CreateRunsAsync([NewRun(due), NewRun(later), NewRun(forGood)]);
        var batch = new CheckpointBatch();
        foreach (var (runId, wakeAt) in new[] { (due, (DateTimeOffset?)now.AddSeconds(-1)), (later, now.AddHours(1)), (forGood, null) })
        {
            var claimed = Assert.Single(await store.ClaimAsync(Request(QueueOf(runId))));
            batch.Finishes.Add(new RunFinish { RunId = runId, Epoch = claimed.Epoch, Kind = RunFinishKind.Suspend, WakeAt = wakeAt, WaitReason = "sleep" });
        }

        await store.CommitAsync(batch);

        var woken = await store.WakeDueRunsAsync(100);
        Assert.True(woken.Woken >= 1);
        Assert.NotNull(woken.NextDueIn);
        Assert.True(woken.NextDueIn <= TimeSpan.FromHours(1), $"next due in {woken.NextDueIn}");
        var ready = (await store.GetRunAsync(due))!;
        Assert.Equal((RunStatus.Pending, null), (ready.Status, ready.WaitReason));
        Assert.Equal(due, Assert.Single(await store.ClaimAsync(Request(QueueOf(due)))).Id);
        Assert.Equal(RunStatus.Waiting, (await store.GetRunAsync(later))!.Status);
        Assert.Equal(RunStatus.Waiting, (await store.GetRunAsync(forGood))!.Status);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.WakeDueRunsAsync(0));
    }

    protected static string NewRunId() => $"t-{Guid.NewGuid():N}";

    protected static string NewQueue() => $"q{Guid.NewGuid():N}"[..12];

    /// <summary>Each run id has a queue of its own, unless a test puts runs in one.</summary>
    protected static string QueueOf(string runId) => "q" + runId[2..13];

    protected static NewRun NewRun(string runId, string? queue = null) =>
        new(runId, "Wf", 1, queue ?? QueueOf(runId), 0, "{}", null, NoTags, 3, ScheduledAt: null);

    protected static ClaimRequest Request(string queue, int limit = 1, TimeSpan? lease = null) =>
        new("w", [queue], [new WorkflowKey("Wf", 1)], limit, lease ?? Lease);

    private static StepWrite Step(string runId, long epoch, string name, int sequence = 0, int? item = null) => new()
    {
        RunId = runId,
        Epoch = epoch,
        Sequence = sequence,
        ItemIndex = item,
        Name = name,
        Status = StepStatus.Completed,
        ResultJson = "1",
        Attempts = 1,
        StartedAt = DateTimeOffset.UtcNow,
        CompletedAt = DateTimeOffset.UtcNow,
    };
}
