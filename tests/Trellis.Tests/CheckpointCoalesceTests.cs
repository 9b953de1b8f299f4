using Trellis.Execution;
using Trellis.Storage;

namespace Trellis.Tests;

public class CheckpointCoalesceTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Coalesce_TwoWritesToSameStepRow_MergeIntoOneRow()
    {
        var failed = Step("run-1", 4, null) with
        {
            Status = StepStatus.Running,
            Attempts = 1,
            StartedAt = T0,
            ErrorJson = """{"attempt":1}""",
            NewErrorsJson = ["""{"attempt":1}"""],
        };
        var completed = Step("run-1", 4, null) with
        {
            Status = StepStatus.Completed,
            Attempts = 2,
            StartedAt = T0.AddSeconds(2),
            ResultJson = "42",
            CompletedAt = T0.AddSeconds(3),
        };
        var pending = Pending(failed, completed);

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        var row = Assert.Single(batch.Steps);
        Assert.Equal(1, batch.Count);
        Assert.Equal(StepStatus.Completed, row.Status);
        Assert.Equal("42", row.ResultJson);
        Assert.Equal(2, row.Attempts);
        Assert.Equal(T0.AddSeconds(3), row.CompletedAt);
        Assert.Equal(T0, row.StartedAt);
        Assert.Equal(["""{"attempt":1}"""], row.NewErrorsJson);
        Assert.Equal(pending, waiters[row]);
        Assert.Single(waiters);
    }

    [Fact]
    public void Coalesce_ThreeFailedAttemptsOfSameStep_ConcatenatesErrorsInOrder()
    {
        var writes = Enumerable.Range(1, 3).Select(attempt => Step("run-1", 0, null) with
        {
            Status = attempt < 3 ? StepStatus.Running : StepStatus.Failed,
            Attempts = attempt,
            StartedAt = T0.AddSeconds(attempt),
            ErrorJson = $$"""{"attempt":{{attempt}}}""",
            NewErrorsJson = [$$"""{"attempt":{{attempt}}}"""],
        }).ToArray();
        var pending = Pending(writes);

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        var row = Assert.Single(batch.Steps);
        Assert.Equal(StepStatus.Failed, row.Status);
        Assert.Equal(3, row.Attempts);
        Assert.Equal(T0.AddSeconds(1), row.StartedAt);
        Assert.Equal("""{"attempt":3}""", row.ErrorJson);
        Assert.Equal(["""{"attempt":1}""", """{"attempt":2}""", """{"attempt":3}"""], row.NewErrorsJson);
        Assert.Equal(pending, waiters[row]);
    }

    [Fact]
    public void Coalesce_RunningRowThenCompletedRow_LaterWinsAndEarlierStartKept()
    {
        var running = Step("run-1", 1, null) with { Status = StepStatus.Running, StartedAt = T0 };
        var completed = Step("run-1", 1, null) with { Status = StepStatus.Completed, StartedAt = T0.AddMilliseconds(5), ResultJson = "\"ok\"" };

        var batch = CheckpointWriter.Coalesce(Pending(running, completed), out _);

        var row = Assert.Single(batch.Steps);
        Assert.Equal(StepStatus.Completed, row.Status);
        Assert.Equal("\"ok\"", row.ResultJson);
        Assert.Equal(T0, row.StartedAt);
        Assert.Empty(row.NewErrorsJson);
    }

    [Fact]
    public void Coalesce_MergedStep_DoesNotChangeTheQueuedWrites()
    {
        var first = Step("run-1", 1, null) with { StartedAt = T0, NewErrorsJson = ["e1"] };
        var second = Step("run-1", 1, null) with { StartedAt = T0.AddSeconds(1), NewErrorsJson = ["e2"] };

        CheckpointWriter.Coalesce(Pending(first, second), out _);

        Assert.Equal(["e1"], first.NewErrorsJson);
        Assert.Equal(["e2"], second.NewErrorsJson);
        Assert.Equal(T0.AddSeconds(1), second.StartedAt);
    }

    [Fact]
    public void Coalesce_NullItemIndexAndItemZeroAtSameSequence_StaySeparateRows()
    {
        var whole = Step("run-1", 2, null);
        var item0 = Step("run-1", 2, 0);
        var item1 = Step("run-1", 2, 1);
        var pending = Pending(whole, item0, item1);

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        Assert.Equal(3, batch.Count);
        Assert.Equal([null, 0, 1], batch.Steps.Select(s => s.ItemIndex));
        Assert.Equal(3, waiters.Count);
        Assert.Same(pending[0], Assert.Single(waiters[whole]));
        Assert.Same(pending[1], Assert.Single(waiters[item0]));
        Assert.Same(pending[2], Assert.Single(waiters[item1]));
    }

    [Fact]
    public void Coalesce_DifferentSequences_StaySeparateRowsInOrder()
    {
        var batch = CheckpointWriter.Coalesce(Pending(Step("run-1", 0, null), Step("run-1", 1, null), Step("run-1", 0, null)), out var waiters);

        Assert.Equal(2, batch.Count);
        Assert.Equal([0, 1], batch.Steps.Select(s => s.Sequence));
        Assert.Equal(2, waiters[batch.Steps[0]].Count);
        Assert.Single(waiters[batch.Steps[1]]);
    }

    [Fact]
    public void Coalesce_ProgressWritesForSameRun_LastOneWins()
    {
        var p1 = Progress("run-1", 10, "starting");
        var p2 = Progress("run-1", 50, "halfway");
        var p3 = Progress("run-1", 90, "almost");
        var pending = Pending(p1, p2, p3);

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        var row = Assert.Single(batch.Progress);
        Assert.Same(p3, row);
        Assert.Equal(90, row.Percent);
        Assert.Equal("almost", row.Message);
        Assert.Equal(1, batch.Count);
        Assert.Equal(pending, waiters[row]);
        Assert.Single(waiters);
    }

    [Fact]
    public void Coalesce_RunFinishesForSameRun_LastOneWins()
    {
        var retry = new RunFinish { RunId = "run-1", Epoch = 1, Kind = RunFinishKind.Retry };
        var failed = new RunFinish { RunId = "run-1", Epoch = 1, Kind = RunFinishKind.Failed, ErrorJson = "{}" };
        var pending = Pending(retry, failed);

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        Assert.Same(failed, Assert.Single(batch.Finishes));
        Assert.Equal(pending, waiters[failed]);
    }

    [Fact]
    public void Coalesce_WritesOfDifferentRuns_StaySeparate()
    {
        var pending = Pending(
            Step("run-1", 0, null),
            Step("run-2", 0, null),
            Progress("run-1", 10, null),
            Progress("run-2", 20, null),
            new RunFinish { RunId = "run-1", Epoch = 1, Kind = RunFinishKind.Completed, OutputJson = "1" },
            new RunFinish { RunId = "run-2", Epoch = 1, Kind = RunFinishKind.Completed, OutputJson = "2" });

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        Assert.Equal(6, batch.Count);
        Assert.Equal(["run-1", "run-2"], batch.Steps.Select(s => s.RunId));
        Assert.Equal(["run-1", "run-2"], batch.Progress.Select(p => p.RunId));
        Assert.Equal(["run-1", "run-2"], batch.Finishes.Select(f => f.RunId));
        Assert.Equal(6, waiters.Count);
        Assert.All(batch.All(), write => Assert.Same(write, Assert.Single(waiters[write]).Write));
    }

    [Fact]
    public void Coalesce_MixedBatch_CountEqualsDistinctRowsAndEveryPendingHasAWaiter()
    {
        var pending = Pending(
            Step("run-1", 0, null),
            Progress("run-1", 10, null),
            Step("run-1", 0, null) with { Status = StepStatus.Completed },
            Step("run-1", 1, 0),
            Step("run-1", 1, 1),
            Step("run-1", 1, 0) with { Status = StepStatus.Completed },
            Progress("run-1", 20, null),
            Step("run-2", 0, null),
            new RunFinish { RunId = "run-2", Epoch = 1, Kind = RunFinishKind.Completed });

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        // Rows: run-1 seq 0; run-1 seq 1 item 0; run-1 seq 1 item 1; run-2 seq 0; run-1 progress; run-2 finish.
        Assert.Equal(6, batch.Count);
        Assert.Equal(batch.Count, batch.All().Count());
        Assert.Equal(batch.Count, waiters.Count);
        Assert.Equal(pending.Count, waiters.Values.Sum(list => list.Count));
        Assert.All(batch.All(), write => Assert.True(waiters.ContainsKey(write)));
        Assert.True(pending.ToHashSet().SetEquals(waiters.Values.SelectMany(list => list)));
    }

    [Fact]
    public void Coalesce_EqualButDistinctWrites_AreTrackedByReference()
    {
        // Records compare by value; two identical writes from two callers must both be answered.
        var a = Step("run-1", 0, null);
        var b = a with { };
        var pending = Pending(a, b);

        var batch = CheckpointWriter.Coalesce(pending, out var waiters);

        var row = Assert.Single(batch.Steps);
        Assert.Equal(pending, waiters[row]);
    }

    [Fact]
    public void Coalesce_EmptyDrain_ReturnsEmptyBatch()
    {
        var batch = CheckpointWriter.Coalesce([], out var waiters);

        Assert.Equal(0, batch.Count);
        Assert.Empty(waiters);
    }

    private static List<CheckpointWriter.PendingWrite> Pending(params CheckpointWrite[] writes) =>
        writes.Select(w => new CheckpointWriter.PendingWrite(w)).ToList();

    private static StepWrite Step(string runId, int sequence, int? item) => new()
    {
        RunId = runId,
        Epoch = 1,
        Sequence = sequence,
        ItemIndex = item,
        Name = $"step-{sequence}",
        Status = StepStatus.Running,
        Attempts = 1,
        StartedAt = T0,
    };

    private static ProgressWrite Progress(string runId, double percent, string? message) => new()
    {
        RunId = runId,
        Epoch = 1,
        Percent = percent,
        Message = message,
    };
}
