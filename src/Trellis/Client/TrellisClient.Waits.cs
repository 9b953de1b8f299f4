using System.Runtime.CompilerServices;
using Trellis.Client;
using Trellis.Storage;

namespace Trellis;

/// <summary>What a client says to runs that wait, and reads from runs as they go: events, messages, values, streams.</summary>
public sealed partial class TrellisClient
{
    private const int StreamPageSize = 500;
    private static readonly TimeSpan ValuePollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Publishes an event: every run waiting for <paramref name="name"/> and <paramref name="key"/>
    /// (<see cref="WorkflowContext.WaitForEventAsync{T}"/>) receives it, and so does a run that reaches such a wait later,
    /// if the event counts for it (published at or after its effective-from time). Returns how many waiting runs received it now.
    /// </summary>
    public Task<int> PublishEventAsync(string name, string key, object? data = null, CancellationToken cancellationToken = default) =>
        PublishEventsAsync([new EventToPublish(name, key, data)], cancellationToken);

    /// <summary>Publishes many events in one round trip and one transaction: all are stored, or, on bad input, none.</summary>
    public Task<int> PublishEventsAsync(IEnumerable<EventToPublish> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var stored = new List<NewEvent>();
        foreach (var e in events)
        {
            ArgumentNullException.ThrowIfNull(e);
            if (e.Name?.StartsWith(MessageEvents.Prefix, StringComparison.Ordinal) == true)
            {
                throw new ArgumentException($"Event names starting with '{MessageEvents.Prefix}' are the messages of SendAsync.", nameof(events));
            }

            stored.Add(ToStored(e));
        }

        return _store.PublishEventsAsync(stored, cancellationToken);
    }

    /// <summary>
    /// Sends a message to the run <paramref name="runId"/> on <paramref name="topic"/>: the run's next
    /// <see cref="WorkflowContext.ReceiveAsync{T}"/> on that topic receives it, each message once and in the order sent,
    /// whether the run waits already or gets there later. Throws <see cref="RunNotFoundException"/> for an unknown run.
    /// </summary>
    public async Task SendAsync(string runId, string topic, object? data = null, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _ = await _store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);
        await _store.PublishEventsAsync([ToStored(new EventToPublish(MessageEvents.EventName(topic), runId, data))], cancellationToken).ConfigureAwait(false);
    }

    private NewEvent ToStored(EventToPublish e)
    {
        var json = e.Data is null ? null : _serializer.Serialize(e.Data, e.Data.GetType());
        if (json is not null)
        {
            StartChecks.CheckInputSize(e.Name, json, _options.MaxInputBytes, "data of event");
        }

        return new NewEvent(e.Name, e.Key, json);
    }

    /// <summary>
    /// The value the run set under <paramref name="key"/> (<see cref="WorkflowContext.SetValueAsync{T}"/>). Not set yet:
    /// waits up to <paramref name="wait"/> for it (looking every 100 ms), and returns <c>default</c> if it is still not
    /// set then, or the run has finished without setting it. Throws <see cref="RunNotFoundException"/> for an unknown run.
    /// </summary>
    public async Task<T?> GetValueAsync<T>(string runId, string key, TimeSpan? wait = null, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var deadline = DateTimeOffset.UtcNow + (wait ?? TimeSpan.Zero);
        while (true)
        {
            var value = await _store.GetValueAsync(runId, key, cancellationToken).ConfigureAwait(false);
            if (!value.RunExists)
            {
                throw new RunNotFoundException(runId);
            }

            if (value.IsSet)
            {
                return _serializer.Deserialize<T>(value.ValueJson ?? "null");
            }

            if (value.RunFinished || DateTimeOffset.UtcNow >= deadline)
            {
                return default;
            }

            await Task.Delay(ValuePollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The entries of the run's stream <paramref name="key"/> (<see cref="WorkflowContext.WriteStreamAsync{T}"/>), in
    /// order, as they are written (looking every 100 ms); ends when the run closes the stream or finishes. Throws
    /// <see cref="RunNotFoundException"/> for an unknown run.
    /// </summary>
    public async IAsyncEnumerable<T> ReadStreamAsync<T>(string runId, string key, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var after = -1;
        while (true)
        {
            var page = await _store.ReadStreamAsync(runId, key, after, StreamPageSize, cancellationToken).ConfigureAwait(false);
            if (!page.RunExists)
            {
                throw new RunNotFoundException(runId);
            }

            foreach (var entry in page.Entries)
            {
                if (entry.Closes)
                {
                    yield break;
                }

                after = entry.Sequence;
                yield return _serializer.Deserialize<T>(entry.ValueJson ?? "null");
            }

            if (page.Entries.Count == StreamPageSize)
            {
                continue; // more written already
            }

            if (page.RunFinished)
            {
                yield break; // read in the same statement as the run's end: nothing comes after
            }

            await Task.Delay(ValuePollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
