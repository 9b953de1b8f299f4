using Trellis.Storage;

namespace Trellis.Testing.StoreConformance;

/// <summary>Child runs and a parent's wait for them (<see cref="IRunChildren"/>).</summary>
public abstract partial class StoreConformanceTests
{
    [Fact]
    public async Task AParentWaitingForChildren_IsWokenByTheLastToFinish_AndThenReadsTheirEnds()
    {
        await using var store = await NewStoreAsync();
        var parent = NewRunId();
        await store.CreateRunsAsync([NewRun(parent)]);
        var held = Assert.Single(await store.ClaimAsync(Request(QueueOf(parent))));
        var queue = NewQueue();
        string[] children = [$"{parent}:0:0", $"{parent}:0:1"];
        await store.CreateRunsAsync([.. children.Select(id => NewRun(id, queue) with { ParentRunId = parent })]);
        Assert.Equal(children, (await store.GetChildrenAsync(parent)).Select(c => c.Id));

        // A wait under another claim's epoch changes nothing.
        Assert.Equal(ChildrenWaitState.NotHeld, (await store.WaitForChildrenAsync(new ChildrenWait(parent, held.Epoch + 1, children))).State);
        Assert.Equal(RunStatus.Running, (await store.GetRunAsync(parent))!.Status);

        Assert.Equal(ChildrenWaitState.Waiting, (await store.WaitForChildrenAsync(new ChildrenWait(parent, held.Epoch, children))).State);
        var waiting = (await store.GetRunAsync(parent))!;
        Assert.Equal((RunStatus.Waiting, "2 child runs"), (waiting.Status, waiting.WaitReason));

        // The first child to finish leaves the parent waiting; the second, which fails, wakes it.
        var first = await store.ClaimAsync(Request(queue, limit: 2));
        Assert.Equal(2, first.Count);
        await store.CommitAsync(Batch(new RunFinish { RunId = first[0].Id, Epoch = first[0].Epoch, Kind = RunFinishKind.Completed, OutputJson = "7" }));
        Assert.Equal(RunStatus.Waiting, (await store.GetRunAsync(parent))!.Status);
        await store.CommitAsync(Batch(new RunFinish
        {
            RunId = first[1].Id, Epoch = first[1].Epoch, Kind = RunFinishKind.Failed,
            ErrorJson = """{"type":"Boom","message":"no","stack":null,"attempt":1,"permanent":true}""",
        }));
        Assert.Equal((RunStatus.Pending, null), ((await store.GetRunAsync(parent))!.Status, (await store.GetRunAsync(parent))!.WaitReason));

        var again = Assert.Single(await store.ClaimAsync(Request(QueueOf(parent))));
        var outcome = await store.WaitForChildrenAsync(new ChildrenWait(parent, again.Epoch, children));
        Assert.Equal(ChildrenWaitState.Finished, outcome.State);
        var ends = outcome.Finished.ToDictionary(o => o.RunId);
        Assert.Equal((RunStatus.Completed, "7"), (ends[first[0].Id].Status, ends[first[0].Id].OutputJson));
        Assert.Equal((RunStatus.Failed, "Boom"), (ends[first[1].Id].Status, ends[first[1].Id].Error?.Type));
    }

    [Fact]
    public async Task CancellingAParent_CancelsTheChildrenThatFollowIt_AndTheirs_NotTheOthers()
    {
        await using var store = await NewStoreAsync();
        var parent = NewRunId();
        await store.CreateRunsAsync([NewRun(parent)]);
        var (child, grandchild, abandoned) = ($"{parent}:0", $"{parent}:0:0", $"{parent}:1");
        await store.CreateRunsAsync(
        [
            NewRun(child) with { ParentRunId = parent },
            NewRun(grandchild) with { ParentRunId = child },
            NewRun(abandoned) with { ParentRunId = parent, CancelWithParent = false },
        ]);

        Assert.Equal(RunStatus.Cancelled, (await store.RequestCancelAsync(parent))!.Status);

        Assert.Equal(RunStatus.Cancelled, (await store.GetRunAsync(child))!.Status);
        Assert.Equal(RunStatus.Cancelled, (await store.GetRunAsync(grandchild))!.Status);
        Assert.Equal(RunStatus.Pending, (await store.GetRunAsync(abandoned))!.Status);
    }

    private static CheckpointBatch Batch(RunFinish finish)
    {
        var batch = new CheckpointBatch();
        batch.Finishes.Add(finish);
        return batch;
    }
}
