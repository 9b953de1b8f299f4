using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<DateTimeOffset> GetTimeAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.Timers.Now);
        var now = (DateTime)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!; // timestamptz: UTC
        return new DateTimeOffset(DateTime.SpecifyKind(now, DateTimeKind.Utc));
    }

    /// <inheritdoc/>
    public async Task<WokenRuns> WakeDueRunsAsync(int limit, TimeSpan clockShift = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = _dataSource.CreateCommand(_sql.Timers.WakeDue);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(Text(_sql.Channel));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = clockShift });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var woken = reader.GetInt32(0);
        // More were due than one round takes: the next round comes at once.
        TimeSpan? next = woken == limit ? TimeSpan.Zero : reader.IsDBNull(1) ? null : reader.GetFieldValue<TimeSpan>(1);
        return new WokenRuns(woken, next is { } wait && wait < TimeSpan.Zero ? TimeSpan.Zero : next);
    }
}

/// <summary>The statements of <c>PostgresStore.Timers.cs</c>: the clock, and waking the runs that wait on it.</summary>
internal sealed class TimerSql(string s)
{
    public string Now { get; } = "SELECT statement_timestamp()";

    /// <summary>
    /// Wakes up to $1 due waiting runs (skipping rows another worker is waking), notifies their queues on channel $2,
    /// and returns how many it woke and the time until the next waiting run not yet due (its time minus now).
    /// </summary>
    public string WakeDue { get; } = $"""
        WITH woken AS (
            -- At its place in the queue by its time; never later than now (due early only by a shifted clock: see $3).
            UPDATE {s}.runs r SET status = {Sql.Pending}, scheduled_at = least(r.scheduled_at, now()), wait_reason = NULL, updated_at = now()
            WHERE r.id = ANY (ARRAY(
                SELECT id FROM {s}.runs
                WHERE status = {Sql.Waiting} AND scheduled_at <= now() + $3
                ORDER BY scheduled_at LIMIT $1 FOR UPDATE SKIP LOCKED))
            AND r.status = {Sql.Waiting}
            RETURNING r.id, r.queue, r.status, r.epoch, r.attempt
        ){Sql.History(s, "recorded", $"SELECT id, now(), '{RunHistoryEvents.Woken}', NULL, epoch, attempt, jsonb_build_object('by', 'timer') FROM woken")}{Sql.Notifications("woken", "$2")}
        SELECT (SELECT count(*) FROM woken)::int,
               (SELECT min(scheduled_at) FROM {s}.runs
                WHERE status = {Sql.Waiting} AND scheduled_at > now() + $3 AND scheduled_at < 'infinity') - (now() + $3),
               (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified)
        """;
}
