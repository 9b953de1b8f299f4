using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <summary>Longest event name or key.</summary>
    private const int MaxEventNameLength = 200;

    /// <inheritdoc/>
    public Task<int> PublishEventsAsync(IReadOnlyList<NewEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var e in events)
        {
            CheckEventName(e.Name, e.Key);
        }

        return events.Count == 0 ? Task.FromResult(0) : LockConflicts.RetryAsync(() => PublishOnceAsync(events, cancellationToken), cancellationToken);
    }

    private async Task<int> PublishOnceAsync(IReadOnlyList<NewEvent> events, CancellationToken cancellationToken)
    {
        await using var batch = _dataSource.CreateBatch();
        var locks = new NpgsqlBatchCommand(_sql.Events.LockMany);
        locks.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. events.Select(e => EventLockKey(e.Name, e.Key))] });
        batch.BatchCommands.Add(locks);
        var publish = new NpgsqlBatchCommand(_sql.Events.Publish);
        publish.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. events.Select(e => e.Name)] });
        publish.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. events.Select(e => e.Key)] });
        publish.Parameters.Add(JsonbArray([.. events.Select(e => e.DataJson)]));
        publish.Parameters.Add(Text(_sql.Channel));
        batch.BatchCommands.Add(publish);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the locks
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.GetInt32(0);
    }

    /// <inheritdoc/>
    public async Task<EventWaitOutcome> WaitForEventAsync(EventWait wait, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wait);
        CheckEventName(wait.Name, wait.Key);
        if (wait.Timeout is { } timeout && timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(wait), timeout, "An event wait's timeout must not be negative.");
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand(_sql.Events.Lock, connection, transaction))
        {
            lockCommand.Parameters.Add(Text(EventLockKey(wait.Name, wait.Key)));
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        DateTimeOffset? expiresAt;
        await using (var find = new NpgsqlCommand(_sql.Events.FindWait, connection, transaction))
        {
            find.Parameters.Add(Text(wait.RunId));
            find.Parameters.Add(new NpgsqlParameter<int> { TypedValue = wait.Sequence });
            await using var reader = await find.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!reader.IsDBNull(0))
                {
                    var received = new EventWaitOutcome(EventWaitState.Received, reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4));
                    await reader.DisposeAsync().ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return received;
                }

                var timedOut = reader.GetBoolean(1);
                var expired = reader.GetBoolean(2);
                expiresAt = reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5);
                await reader.DisposeAsync().ConfigureAwait(false);
                if (timedOut || expired)
                {
                    await ExecuteAsync(connection, transaction, _sql.Events.MarkTimedOut, cancellationToken, Text(wait.RunId), new NpgsqlParameter<int> { TypedValue = wait.Sequence }).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return new EventWaitOutcome(EventWaitState.TimedOut);
                }
            }
            else
            {
                await reader.DisposeAsync().ConfigureAwait(false);
                var (opened, outcome) = await OpenWaitAsync(connection, transaction, wait, cancellationToken).ConfigureAwait(false);
                if (outcome is not null)
                {
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return outcome;
                }

                expiresAt = opened;
            }
        }

        // Still open: the run waits, in this transaction, so that a publish either came before (and was found above)
        // or comes after, and finds the run waiting.
        var finish = new RunFinish
        {
            RunId = wait.RunId,
            Epoch = wait.Epoch,
            Kind = RunFinishKind.Suspend,
            WakeAt = expiresAt,
            WaitReason = $"event {wait.Name} / {wait.Key}",
        };
        await using var suspend = new NpgsqlBatch(connection, transaction);
        suspend.BatchCommands.Add(FinishCommand([finish], workerId: null));
        bool applied;
        await using (var reader = await suspend.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            applied = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!applied)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return new EventWaitOutcome(EventWaitState.NotHeld);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new EventWaitOutcome(EventWaitState.Waiting);
    }

    /// <summary>A first wait at its position: receives the earliest event it may, or is stored open (returning when it expires).</summary>
    private async Task<(DateTimeOffset? ExpiresAt, EventWaitOutcome? Received)> OpenWaitAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, EventWait wait, CancellationToken cancellationToken)
    {
        long? eventId = null;
        EventWaitOutcome? received = null;
        await using (var match = new NpgsqlCommand(_sql.Events.FindEvent, connection, transaction))
        {
            match.Parameters.Add(Text(wait.Name));
            match.Parameters.Add(Text(wait.Key));
            match.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = wait.EffectiveFrom?.ToUniversalTime() });
            match.Parameters.Add(Text(wait.RunId));
            await using var reader = await match.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                eventId = reader.GetInt64(0);
                received = new EventWaitOutcome(EventWaitState.Received, reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
            }
        }

        await using var insert = new NpgsqlCommand(_sql.Events.InsertWait, connection, transaction);
        insert.Parameters.Add(Text(wait.RunId));
        insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = wait.Sequence });
        insert.Parameters.Add(Text(wait.Name));
        insert.Parameters.Add(Text(wait.Key));
        insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = wait.EffectiveFrom?.ToUniversalTime() });
        insert.Parameters.Add(new NpgsqlParameter<TimeSpan?> { TypedValue = wait.Timeout });
        insert.Parameters.Add(new NpgsqlParameter<long?> { TypedValue = eventId });
        var expiresAt = await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        if (expiresAt is null)
        {
            // The run does not exist (deleted): there is nothing to wait for.
            return (null, new EventWaitOutcome(EventWaitState.NotHeld));
        }

        // 'infinity' (no timeout) reads as DateTime.MaxValue.
        return (expiresAt is DateTime at && at != DateTime.MaxValue ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null, received);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddRange(parameters);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private string EventLockKey(string name, string key) => $"{_sql.EventLockPrefix}{name}\n{key}";

    private static void CheckEventName(string name, string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (name.Length > MaxEventNameLength || key.Length > MaxEventNameLength)
        {
            throw new ArgumentException($"An event's name and key are at most {MaxEventNameLength} characters (got '{name[..Math.Min(name.Length, 40)]}', '{key[..Math.Min(key.Length, 40)]}').");
        }
    }
}

/// <summary>The statements of <c>PostgresStore.Events.cs</c>: events, and the runs' waits for them.</summary>
internal sealed class EventSql(string s)
{
    /// <summary>Waits and publishes on one name and key serialise on this lock, for the length of their transaction.</summary>
    public string Lock { get; } = "SELECT pg_advisory_xact_lock(hashtext($1))";

    /// <summary>The locks of many names and keys, always taken in the same order.</summary>
    public string LockMany { get; } = "SELECT pg_advisory_xact_lock(hashtext(k)) FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) l";

    /// <summary>The wait of run $1 at position $2: its event (id, data, time), whether it timed out or has expired, and when it expires.</summary>
    public string FindWait { get; } = $"""
        SELECT w.event_id, w.timed_out, w.expires_at IS NOT NULL AND w.expires_at <= now(), e.data::text, e.published_at, w.expires_at
        FROM {s}.event_waits w LEFT JOIN {s}.events e ON e.id = w.event_id
        WHERE w.run_id = $1 AND w.seq = $2
        """;

    /// <summary>The earliest event named $1 with key $2 published at or after $3 (or run $4's creation) that run $4 has not received.</summary>
    public string FindEvent { get; } = $"""
        SELECT e.id, e.data::text, e.published_at FROM {s}.events e
        WHERE e.name = $1 AND e.key = $2
          AND e.published_at >= coalesce($3, (SELECT created_at FROM {s}.runs WHERE id = $4))
          AND NOT EXISTS (SELECT 1 FROM {s}.event_waits w WHERE w.run_id = $4 AND w.event_id = e.id)
        ORDER BY e.published_at, e.id
        LIMIT 1
        """;

    /// <summary>Stores a wait (received at once when $7, an event id, is given); returns when it expires, or no row if the run is gone.</summary>
    public string InsertWait { get; } = $"""
        WITH inserted AS (
            INSERT INTO {s}.event_waits (run_id, seq, name, key, effective_from, expires_at, event_id, received_at)
            SELECT r.id, $2, $3, $4, coalesce($5, r.created_at), now() + $6, $7, CASE WHEN $7 IS NOT NULL THEN now() END
            FROM {s}.runs r WHERE r.id = $1
            RETURNING run_id, name, key, event_id, expires_at
        ){Sql.History(s, "recorded", $"""
            SELECT run_id, now(), {ReceivedEvent("name")}, NULL, NULL, NULL, {ReceivedDetail("name", "key", "event_id")}
            FROM inserted WHERE event_id IS NOT NULL
            """)}
        SELECT coalesce(expires_at, 'infinity') FROM inserted
        """;

    public string MarkTimedOut { get; } = $"""
        WITH marked AS (
            UPDATE {s}.event_waits SET timed_out = true WHERE run_id = $1 AND seq = $2 AND NOT timed_out RETURNING run_id, name, key
        ){Sql.History(s, "recorded", $"""
            SELECT run_id, now(), '{RunHistoryEvents.WaitTimedOut}', NULL, NULL, NULL, jsonb_build_object('name', name, 'key', key) FROM marked
            """)}
        SELECT count(*) FROM marked
        """;

    /// <summary>The history event of a wait that received an event: a message for the names of <see cref="MessageEvents"/>.</summary>
    public static string ReceivedEvent(string name) =>
        $"CASE WHEN starts_with({name}, '{MessageEvents.Prefix}') THEN '{RunHistoryEvents.MessageReceived}' ELSE '{RunHistoryEvents.EventReceived}' END";

    /// <summary>The history detail of a received event: its name and key, or a message's topic; and its id.</summary>
    public static string ReceivedDetail(string name, string key, string eventId) =>
        $"CASE WHEN starts_with({name}, '{MessageEvents.Prefix}') THEN jsonb_build_object('topic', substr({name}, {MessageEvents.Prefix.Length + 1}), 'event_id', {eventId}) "
        + $"ELSE jsonb_build_object('name', {name}, 'key', {key}, 'event_id', {eventId}) END";

    /// <summary>
    /// Stores events ($1 names, $2 keys, $3 data), gives each open wait on a name and key the earliest of them it may
    /// receive, makes the runs that waited ready, and notifies their queues on channel $4. Returns the events stored and
    /// the waits that received one.
    /// </summary>
    public string Publish { get; } = $"""
        WITH published AS (
            INSERT INTO {s}.events (name, key, data)
            SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
            RETURNING id, name, key, data, published_at
        ), matched AS (
            SELECT DISTINCT ON (w.run_id, w.seq) w.run_id, w.seq, p.id AS event_id
            FROM {s}.event_waits w JOIN published p ON p.name = w.name AND p.key = w.key AND p.published_at >= w.effective_from
            WHERE w.event_id IS NULL AND NOT w.timed_out
            ORDER BY w.run_id, w.seq, p.id
        ), received AS (
            UPDATE {s}.event_waits w SET event_id = m.event_id, received_at = now()
            FROM matched m WHERE w.run_id = m.run_id AND w.seq = m.seq
            RETURNING w.run_id, w.seq, w.name, w.key, w.event_id
        ), answered AS (
            -- The wait's row in steps gets its outcome here, as the engine would write it (EventWaits): the run, replayed
            -- by whichever worker claims it, goes on from the row without another look at the store or another write.
            UPDATE {s}.steps st SET
                status = {Sql.Completed},
                result = jsonb_build_object('name', x.name, 'key', x.key, 'received', true, 'publishedAt', p.published_at, 'data', p.data),
                completed_at = now()
            FROM received x JOIN published p ON p.id = x.event_id
            WHERE st.run_id = x.run_id AND st.seq = x.seq AND coalesce(st.item_index, -1) = -1 AND st.status = {Sql.Running}
        ), woken AS (
            UPDATE {s}.runs r SET status = {Sql.Pending}, scheduled_at = now(), wait_reason = NULL, updated_at = now()
            WHERE r.id IN (SELECT run_id FROM received) AND r.status = {Sql.Waiting}
            RETURNING r.id, r.queue, r.status, r.epoch, r.attempt
        ){Sql.History(s, "recorded", $"""
            SELECT run_id, now(), {EventSql.ReceivedEvent("name")}, NULL, NULL, NULL, {EventSql.ReceivedDetail("name", "key", "event_id")} FROM received
            UNION ALL
            SELECT id, now(), '{RunHistoryEvents.Woken}', NULL, epoch, attempt, jsonb_build_object('by', 'event') FROM woken
            """)}{Sql.Notifications("woken", "$4")}
        SELECT (SELECT count(*) FROM received)::int, (SELECT count(*) FROM published),
               (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified)
        """;
}
