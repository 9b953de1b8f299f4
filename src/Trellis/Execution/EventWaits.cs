using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// A wait for an event at one step position of a run (<see cref="WorkflowContext.WaitForEventAsync{T}"/>). Its row in
/// <c>steps</c> is <c>running</c> while it waits and holds the outcome once it has one, so that a replay answers from
/// the row; the wait itself, and the run's going to <c>waiting</c> while nothing has arrived, are one store transaction
/// (<see cref="IRunEvents.WaitForEventAsync"/>), so that an event published meanwhile is never missed.
/// </summary>
internal static class EventWaits
{
    /// <summary>The name of a wait's row in <c>steps</c>: "event paid", or for a message "message approvals".</summary>
    public static string StepName(string name) =>
        name.StartsWith(MessageEvents.Prefix, StringComparison.Ordinal) ? $"message {name[MessageEvents.Prefix.Length..]}" : $"event {name}";

    public static async Task<EventResult<T>> WaitAsync<T>(
        RunExecution run, int sequence, StepInfo? stored, string name, string key, TimeSpan? timeout, DateTimeOffset? effectiveFrom)
    {
        var services = run.Services;
        if (stored is { Status: StepStatus.Completed })
        {
            return Read<T>(services.Serializer, stored.ResultJson);
        }

        var startedAt = stored?.StartedAt ?? services.Time.GetUtcNow();
        if (stored is null || !run.HoldsLease)
        {
            // Also takes the run out of a claim window: a wait that goes on needs the run held under a lease.
            await run.EnsureAppliedAsync(Write(run, sequence, name, StepStatus.Running, Json(name, key, null), startedAt)).ConfigureAwait(false);
        }

        await run.EnsureHeldAsync().ConfigureAwait(false);
        var wait = new EventWait(run.RunId, run.Epoch, sequence, name, key, effectiveFrom, timeout);
        var outcome = await StoreCalls.RetryAsync(run, token => services.Events.WaitForEventAsync(wait, token)).ConfigureAwait(false);
        switch (outcome.State)
        {
            case EventWaitState.Received or EventWaitState.TimedOut:
                var result = Json(name, key, outcome);
                await run.EnsureAppliedAsync(Write(run, sequence, name, StepStatus.Completed, result, startedAt)).ConfigureAwait(false);
                return Read<T>(services.Serializer, result);
            case EventWaitState.Waiting:
                run.Suspend(null);
                return await new TaskCompletionSource<EventResult<T>>().Task.ConfigureAwait(false); // never: the executor abandons the code
            default:
                run.Abort(AbortReason.LeaseLost);
                throw new LeaseLostException(run.RunId, run.Epoch);
        }
    }

    /// <summary>The row's result: the name and key waited on, and once it has an outcome, whether an event came, and its data.</summary>
    private static string Json(string name, string key, EventWaitOutcome? outcome)
    {
        var json = new JsonObject { ["name"] = name, ["key"] = key };
        if (outcome is not null)
        {
            json["received"] = outcome.State == EventWaitState.Received;
            json["publishedAt"] = outcome.PublishedAt;
            json["data"] = outcome.DataJson is null ? null : JsonNode.Parse(outcome.DataJson);
        }

        return json.ToJsonString();
    }

    private static EventResult<T> Read<T>(TrellisSerializer serializer, string? resultJson)
    {
        var json = JsonNode.Parse(resultJson ?? "{}")!.AsObject();
        if (json["received"]?.GetValue<bool>() != true)
        {
            return new EventResult<T>(false, default, null);
        }

        try
        {
            var data = serializer.Deserialize<T>(json["data"]?.ToJsonString() ?? "null");
            return new EventResult<T>(true, data, json["publishedAt"]?.GetValue<DateTimeOffset>());
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw new NonRetryableException($"The data of event '{json["name"]}' does not deserialize into {typeof(T).Name}: {ex.Message}", ex);
        }
    }

    private static Task<bool> Write(RunExecution run, int sequence, string name, StepStatus status, string resultJson, DateTimeOffset startedAt) =>
        run.WriteAsync(new StepWrite
        {
            RunId = run.RunId,
            Epoch = run.Epoch,
            Sequence = sequence,
            Name = StepName(name),
            Status = status,
            ResultJson = resultJson,
            Attempts = 1,
            StartedAt = startedAt,
            CompletedAt = status == StepStatus.Completed ? run.Services.Time.GetUtcNow() : null,
        });
}
