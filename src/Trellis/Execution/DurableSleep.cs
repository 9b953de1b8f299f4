using System.Text.Json;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// A sleep at one step position of a run (<see cref="WorkflowContext.SleepAsync"/>). A short one waits on the worker. A
/// longer one stores its end, on the store's clock, in a <c>sleep</c> row, and the run leaves the worker to wait in the
/// store until then; whichever worker claims it after it is woken replays the workflow up to here, finds the row, and
/// goes on once the store's clock has passed the end (or goes back to waiting, when it was woken early).
/// </summary>
internal static class DurableSleep
{
    /// <summary>The name of a sleep's row in <c>steps</c>.</summary>
    public const string StepName = "sleep";

    // A fixed shape, whatever the workflows' serializer options: {"until": "…"}, for SQL and the dashboard to read.
    private static readonly JsonSerializerOptions RecordJson = new(JsonSerializerDefaults.Web);

    /// <summary>What a sleep's row holds: when it ends, on the store's clock.</summary>
    private sealed record SleepRecord(DateTimeOffset Until);

    public static async Task SleepAsync(RunExecution run, int sequence, StepInfo? stored, TimeSpan? duration, DateTimeOffset? until)
    {
        var services = run.Services;
        if (stored is not null)
        {
            if (stored.Status != StepStatus.Completed)
            {
                var end = JsonSerializer.Deserialize<SleepRecord>(stored.ResultJson ?? "null", RecordJson)?.Until
                    ?? throw new NonRetryableException($"The row of the sleep at position {sequence} holds no end time.");
                await ContinueAsync(run, sequence, end, stored.StartedAt).ConfigureAwait(false);
            }

            return;
        }

        await run.EnsureHeldAsync().ConfigureAwait(false);
        var startedAt = services.Time.GetUtcNow();
        var maxOnWorker = services.Options.Worker.MaxSleepOnWorker;
        if (duration is { } shortSleep && shortSleep <= maxOnWorker)
        {
            await Task.Delay(shortSleep, services.Time, run.StopToken).ConfigureAwait(false);
            await run.EnsureAppliedAsync(WriteAsync(run, sequence, StepStatus.Completed, startedAt + shortSleep, startedAt)).ConfigureAwait(false);
            return;
        }

        var now = await StoreTimeAsync(run).ConfigureAwait(false);
        var endsAt = until ?? now + duration!.Value;
        if (endsAt - now <= maxOnWorker)
        {
            if (endsAt > now)
            {
                await Task.Delay(endsAt - now, services.Time, run.StopToken).ConfigureAwait(false);
            }

            await run.EnsureAppliedAsync(WriteAsync(run, sequence, StepStatus.Completed, endsAt, startedAt)).ConfigureAwait(false);
            return;
        }

        // Stored before the run leaves: the outcome of a run in a claim window would otherwise go out with the window's
        // close, ahead of the row. A run lost between the two finds its row when it is replayed, and sleeps from there.
        await run.EnsureAppliedAsync(WriteAsync(run, sequence, StepStatus.Running, endsAt, startedAt)).ConfigureAwait(false);
        await LeaveWorkerAsync(run, endsAt).ConfigureAwait(false);
    }

    private static async Task ContinueAsync(RunExecution run, int sequence, DateTimeOffset endsAt, DateTimeOffset? startedAt)
    {
        await run.EnsureHeldAsync().ConfigureAwait(false);
        var now = await StoreTimeAsync(run).ConfigureAwait(false);
        if (now < endsAt)
        {
            await LeaveWorkerAsync(run, endsAt).ConfigureAwait(false);
        }

        // Not awaited: if it is lost, a replay finds the sleep over again; if it is refused, so is the next write.
        _ = WriteAsync(run, sequence, StepStatus.Completed, endsAt, startedAt ?? now);
    }

    /// <summary>The store's clock (<see cref="StoreClock"/>): known from the claim when it said, asked for otherwise.</summary>
    private static async ValueTask<DateTimeOffset> StoreTimeAsync(RunExecution run)
    {
        var now = run.StoreTimeNow ?? await StoreCalls.RetryAsync(run, run.Services.Timers.GetTimeAsync).ConfigureAwait(false);
        return now + StoreClock.Shift(run.Services.Time);
    }

    /// <summary>The run waits in the store until <paramref name="endsAt"/>; the workflow's code does not go on here.</summary>
    private static Task LeaveWorkerAsync(RunExecution run, DateTimeOffset endsAt)
    {
        run.Suspend(new RunFinish
        {
            RunId = run.RunId,
            Epoch = run.Epoch,
            Kind = RunFinishKind.Suspend,
            WakeAt = endsAt,
            WaitReason = $"sleep until {endsAt.UtcDateTime:yyyy-MM-dd HH:mm:ss.fff} UTC",
        });
        return new TaskCompletionSource().Task; // never completes: the executor abandons the workflow's code
    }

    private static Task<bool> WriteAsync(RunExecution run, int sequence, StepStatus status, DateTimeOffset endsAt, DateTimeOffset startedAt)
    {
        var services = run.Services;
        var row = new StepWrite
        {
            RunId = run.RunId,
            Epoch = run.Epoch,
            Sequence = sequence,
            Name = StepName,
            Status = status,
            ResultJson = JsonSerializer.Serialize(new SleepRecord(endsAt), RecordJson),
            Attempts = 1,
            StartedAt = startedAt,
            CompletedAt = status == StepStatus.Completed ? services.Time.GetUtcNow() : null,
        };
        return run.WriteAsync(row);
    }
}
