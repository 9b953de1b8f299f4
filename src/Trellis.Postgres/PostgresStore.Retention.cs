using Npgsql;
using NpgsqlTypes;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<RetentionBatch> DeleteOldRunsAsync(
        RetentionRules rules, int limit, RetentionPosition? after = null, TimeSpan clockShift = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (!rules.DeletesAnything)
        {
            return new RetentionBatch(0, null);
        }

        var names = rules.PerWorkflow.Keys.ToArray();
        await using var command = _dataSource.CreateCommand(_sql.Retention.DeleteOld);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = names });
        command.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Interval,
            Value = names.Select(name => rules.PerWorkflow[name] is { } age ? (object)age : DBNull.Value).ToArray(),
        });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Interval, Value = rules.DefaultAge is { } defaultAge ? defaultAge : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = clockShift });
        command.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlDbType.TimestampTz,
            Value = after is null ? DBNull.Value : after.CompletedAt.UtcDateTime,
        });
        command.Parameters.Add(Text(after?.RootId ?? ""));

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var next = reader.IsDBNull(1) ? null : new RetentionPosition(new DateTimeOffset(reader.GetFieldValue<DateTime>(1), TimeSpan.Zero), reader.GetString(2));
        return new RetentionBatch(reader.GetInt32(0), next);
    }
}

/// <summary>The statement of <c>PostgresStore.Retention.cs</c>: deleting old finished runs, a family at a time.</summary>
internal sealed class RetentionSql(string s)
{
    /// <summary>
    /// Reads the next $4 finished roots after ($6, $7) (when they finished, their id; $6 null: from the first), deletes the
    /// families of the old ones, and returns how many runs it deleted and where the next statement goes on. A root is old when it is finished,
    /// has no parent, and finished before its cutoff: now (+ $5, the clock shift) minus its workflow's age, $2[i] for the
    /// workflow $1[i] (null: kept), else $3 (null: kept). Its family (every run it started, and theirs) goes with it when
    /// every run of it is finished before that cutoff too, and none is locked by anyone else (a worker's claim, a resume):
    /// those are skipped, never waited for, and a run reopened since the statement's snapshot is read anew by its lock.
    /// Families are taken oldest first while the runs taken so far number under $4, so a family larger than $4 goes alone.
    /// Steps, event waits, values and stream entries follow their runs by the foreign keys' cascade; history has no
    /// foreign key (migration 015) and is deleted here, as are the messages sent to the runs and the events they received
    /// that no other run received and no live run can still receive (every live run was created after them: a wait counts
    /// events from its run's creation unless it names an earlier time).
    /// </summary>
    public string DeleteOld { get; } = $"""
        WITH RECURSIVE workflows (name) AS (
            -- The workflows that have finished roots, read from the index one name at a time (a skip scan).
            (SELECT workflow_name FROM {s}.runs WHERE completed_at IS NOT NULL AND parent_id IS NULL ORDER BY workflow_name LIMIT 1)
            UNION ALL
            SELECT (SELECT r.workflow_name FROM {s}.runs r
                    WHERE r.completed_at IS NOT NULL AND r.parent_id IS NULL AND r.workflow_name > w.name
                    ORDER BY r.workflow_name LIMIT 1)
            FROM workflows w WHERE w.name IS NOT NULL
        ), cutoffs AS (
            SELECT w.name, now() + $5 - CASE WHEN o.name IS NOT NULL THEN o.age ELSE $3::interval END AS cutoff
            FROM workflows w LEFT JOIN unnest($1::text[], $2::interval[]) AS o (name, age) ON o.name = w.name
            WHERE w.name IS NOT NULL
        ), roots AS (
            SELECT r.id, r.completed_at, c.cutoff
            FROM cutoffs c CROSS JOIN LATERAL (
                SELECT r.id, r.completed_at FROM {s}.runs r
                WHERE r.workflow_name = c.name AND r.completed_at IS NOT NULL AND r.parent_id IS NULL AND r.completed_at < c.cutoff
                  AND (r.completed_at, r.id) > (coalesce($6, '-infinity'), $7)
                ORDER BY r.completed_at, r.id LIMIT $4) r
            WHERE c.cutoff IS NOT NULL
            ORDER BY r.completed_at, r.id LIMIT $4
        ), family (root, id) AS (
            SELECT id, id FROM roots
            UNION ALL
            -- Each run's children looked up by runs_children (OFFSET 0 keeps the lateral from being merged with the whole index).
            SELECT f.root, c.id FROM family f CROSS JOIN LATERAL (SELECT id FROM {s}.runs WHERE parent_id = f.id OFFSET 0) c
        ), locked AS (
            SELECT r.id, r.completed_at FROM {s}.runs r
            WHERE r.id IN (SELECT id FROM family) AND r.completed_at IS NOT NULL
            FOR UPDATE SKIP LOCKED
        ), old_families AS (
            SELECT f.root, o.completed_at, count(*) AS size
            FROM family f JOIN roots o ON o.id = f.root LEFT JOIN locked l ON l.id = f.id
            GROUP BY f.root, o.completed_at, o.cutoff
            HAVING bool_and(coalesce(l.completed_at < o.cutoff, false))
        ), chosen AS (
            SELECT root FROM (
                SELECT root, sum(size) OVER (ORDER BY completed_at, root) - size AS runs_before FROM old_families) t
            WHERE runs_before < $4
        ), doomed AS (
            SELECT id FROM family WHERE root IN (SELECT root FROM chosen)
        ), deleted_runs AS (
            -- Rows by their keys, from arrays: a join would let the plan read a whole index when its estimates say so.
            DELETE FROM {s}.runs r WHERE r.id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING r.id
        ), deleted_history AS (
            DELETE FROM {s}.history h WHERE h.run_id = ANY (ARRAY(SELECT id FROM doomed))
        ), deleted_waits AS (
            DELETE FROM {s}.event_waits w WHERE w.run_id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING w.event_id
        ), dead_events AS (
            -- Each candidate looked up by its id (OFFSET 0: not planned as a scan of the events old enough, joined).
            SELECT e.id
            FROM (SELECT event_id AS id FROM deleted_waits WHERE event_id IS NOT NULL
                  UNION
                  SELECT m.id FROM doomed d CROSS JOIN LATERAL (
                      SELECT id FROM {s}.events WHERE starts_with(name, '{MessageEvents.Prefix}') AND key = d.id COLLATE "default" OFFSET 0) m) c
            CROSS JOIN LATERAL (SELECT id, name, published_at FROM {s}.events WHERE id = c.id OFFSET 0) e
            WHERE (starts_with(e.name, '{MessageEvents.Prefix}')
                   OR e.published_at < (SELECT coalesce(min(created_at), 'infinity') FROM {s}.runs WHERE completed_at IS NULL))
              -- A scalar subquery, looked up per event by event_waits_by_event (NOT EXISTS was planned as a join with all of it).
              AND (SELECT count(*) FROM (
                      SELECT 1 FROM {s}.event_waits o WHERE o.event_id = e.id AND o.run_id NOT IN (SELECT id FROM doomed) LIMIT 1) other) = 0
        ), deleted_events AS (
            DELETE FROM {s}.events e WHERE e.id = ANY (ARRAY(SELECT id FROM dead_events))
        )
        -- Where the next statement goes on: the last root read such that no old family at or before it was left for its size.
        SELECT (SELECT count(*) FROM deleted_runs)::int, p.completed_at, p.id
        FROM (SELECT 1) one LEFT JOIN LATERAL (
            SELECT r.completed_at, r.id FROM roots r
            WHERE NOT EXISTS (
                SELECT 1 FROM old_families f
                WHERE f.root NOT IN (SELECT root FROM chosen) AND (f.completed_at, f.root) <= (r.completed_at, r.id))
            ORDER BY r.completed_at DESC, r.id DESC LIMIT 1) p ON true
        """;
}
