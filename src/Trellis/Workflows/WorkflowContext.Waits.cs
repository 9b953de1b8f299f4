using Trellis.Execution;
using Trellis.Storage;

namespace Trellis;

/// <summary>What a workflow uses to wait without a worker (sleeps, events, messages) and to publish as it goes (values, streams).</summary>
public sealed partial class WorkflowContext
{
    /// <summary>
    /// Sleeps for <paramref name="duration"/>, durably: a sleep longer than <see cref="WorkerOptions.MaxSleepOnWorker"/>
    /// (1 s by default) leaves the worker, and the run waits in the store (<c>waiting</c>, until its <c>scheduled_at</c>),
    /// holding no slot and no memory, however long it sleeps; whichever worker is alive when it ends wakes it, and the
    /// workflow goes on from here (its steps before the sleep replayed from their checkpoints, not run again). The end
    /// is set on the database's clock, when the sleep is stored. Takes a step position, as a step does.
    /// </summary>
    public Task SleepAsync(TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        var sequence = _run.NextSequence();
        return RunSleepAsync(sequence, duration, until: null);
    }

    /// <summary>
    /// Sleeps until <paramref name="until"/> on the database's clock, durably, as <see cref="SleepAsync"/> does; a time
    /// that has passed returns at once.
    /// </summary>
    public Task SleepUntilAsync(DateTimeOffset until)
    {
        var sequence = _run.NextSequence();
        return RunSleepAsync(sequence, duration: null, until);
    }

    /// <summary>
    /// Waits for an event published with <paramref name="name"/> and <paramref name="key"/>
    /// (<see cref="TrellisClient.PublishEventAsync"/>), durably: until one arrives the run waits in the store
    /// (<c>waiting</c>), holding no worker, and the event makes it ready again. An event counts when it was published at
    /// or after <paramref name="effectiveFrom"/>, by default the run's creation, so one published before the run reached
    /// the wait is delivered too; each wait receives one event, and never one an earlier wait of the run received. Several
    /// runs waiting on the same name and key each receive it. After <paramref name="timeout"/> (null: none) the result
    /// says <see cref="EventResult{T}.TimedOut"/>. Takes a step position, as a step does.
    /// </summary>
    public Task<EventResult<T>> WaitForEventAsync<T>(string name, string key, TimeSpan? timeout = null, DateTimeOffset? effectiveFrom = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (name.StartsWith(MessageEvents.Prefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Event names starting with '{MessageEvents.Prefix}' are the messages of ReceiveAsync.", nameof(name));
        }

        return WaitAsync<T>(name, key, timeout, effectiveFrom);
    }

    private Task<EventResult<T>> WaitAsync<T>(string name, string key, TimeSpan? timeout, DateTimeOffset? effectiveFrom)
    {
        if (timeout is { } t)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(t, TimeSpan.Zero, nameof(timeout));
        }

        var sequence = _run.NextSequence();
        return RunEventWaitAsync<T>(sequence, name, key, timeout, effectiveFrom);
    }

    /// <summary>
    /// Receives the next message sent to this run on <paramref name="topic"/> (<see cref="TrellisClient.SendAsync"/>),
    /// durably, as <see cref="WaitForEventAsync{T}"/> waits: each message is received once, in the order sent, and one
    /// sent before the run got here waits for it. After <paramref name="timeout"/> (null: none) the result says
    /// <see cref="EventResult{T}.TimedOut"/>. Takes a step position, as a step does.
    /// </summary>
    public Task<EventResult<T>> ReceiveAsync<T>(string topic, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        return WaitAsync<T>(MessageEvents.EventName(topic), RunId, timeout, effectiveFrom: null);
    }

    /// <summary>
    /// Publishes <paramref name="value"/> under <paramref name="key"/> for callers to read or wait for
    /// (<see cref="TrellisClient.GetValueAsync{T}"/>); a later call with the same key replaces it. Durable: a replay does
    /// not set it again. Takes a step position, as a step does.
    /// </summary>
    public Task SetValueAsync<T>(string key, T value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var sequence = _run.NextSequence();
        var json = _run.Services.Serializer.Serialize(value);
        return RunStoreWriteAsync(sequence, $"value {key}", json, token => _run.Services.Values.SetValueAsync(RunId, _run.Epoch, key, json, token));
    }

    /// <summary>
    /// Appends <paramref name="value"/> to the stream <paramref name="key"/>, which callers read as it grows
    /// (<see cref="TrellisClient.ReadStreamAsync{T}"/>), for live progress say; <see cref="CloseStreamAsync"/> ends it,
    /// and so does the run's end. Durable: a replay does not append again. Takes a step position, as a step does.
    /// </summary>
    public Task WriteStreamAsync<T>(string key, T value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var sequence = _run.NextSequence();
        var json = _run.Services.Serializer.Serialize(value);
        return RunStoreWriteAsync(sequence, $"stream {key}", json, token => _run.Services.Values.AppendStreamAsync(RunId, _run.Epoch, key, sequence, json, closes: false, token));
    }

    /// <summary>Ends the stream <paramref name="key"/>: its readers finish once they have read what came before.</summary>
    public Task CloseStreamAsync(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var sequence = _run.NextSequence();
        return RunStoreWriteAsync(sequence, $"stream {key} closed", "null", token => _run.Services.Values.AppendStreamAsync(RunId, _run.Epoch, key, sequence, null, closes: true, token));
    }

    private async Task<EventResult<T>> RunEventWaitAsync<T>(int sequence, string name, string key, TimeSpan? timeout, DateTimeOffset? effectiveFrom)
    {
        var stored = _run.GetStored(sequence);
        var stepName = EventWaits.StepName(name);
        if (stored is not null && (stored.IsPerItem || stored.Name != stepName))
        {
            throw Mismatch(sequence, stored, stepName, perItem: false);
        }

        return await EventWaits.WaitAsync<T>(_run, sequence, stored?.Step, name, key, timeout, effectiveFrom).ConfigureAwait(false);
    }

    /// <summary>A write to the store's own tables at a step position (a value, a stream entry), done once across replays.</summary>
    private async Task RunStoreWriteAsync(int sequence, string stepName, string valueJson, Func<CancellationToken, Task<bool>> write)
    {
        var stored = _run.GetStored(sequence);
        if (stored is not null)
        {
            if (stored.IsPerItem || stored.Name != stepName)
            {
                throw Mismatch(sequence, stored, stepName, perItem: false);
            }

            if (stored.Step!.Status == StepStatus.Completed)
            {
                return;
            }
        }

        await _run.EnsureHeldAsync().ConfigureAwait(false);
        var startedAt = stored?.Step?.StartedAt ?? _run.Services.Time.GetUtcNow();
        var row = new StepWrite
        {
            RunId = RunId, Epoch = _run.Epoch, Sequence = sequence, Name = stepName, Status = StepStatus.Running,
            ResultJson = valueJson, Attempts = 1, StartedAt = startedAt,
        };
        // A running row first: it takes the run out of a claim window (setting the value needs a lease and its epoch),
        // and a replay that finds it running sets the value again. Completed once the value is stored.
        await _run.EnsureAppliedAsync(_run.WriteAsync(row)).ConfigureAwait(false);
        if (!await StoreCalls.RetryAsync(_run, write).ConfigureAwait(false))
        {
            _run.Abort(AbortReason.LeaseLost);
            throw new LeaseLostException(RunId, _run.Epoch);
        }

        _ = _run.WriteAsync(row with { Status = StepStatus.Completed, CompletedAt = _run.Services.Time.GetUtcNow() });
    }

    private async Task RunSleepAsync(int sequence, TimeSpan? duration, DateTimeOffset? until)
    {
        var stored = _run.GetStored(sequence);
        if (stored is not null && (stored.IsPerItem || stored.Name != DurableSleep.StepName))
        {
            throw Mismatch(sequence, stored, DurableSleep.StepName, perItem: false);
        }

        await DurableSleep.SleepAsync(_run, sequence, stored?.Step, duration, until).ConfigureAwait(false);
    }
}
