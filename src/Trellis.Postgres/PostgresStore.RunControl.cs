using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public Task<RunControlResult> RetryRunAsync(string runId, CancellationToken cancellationToken = default) =>
        ControlAsync(_sql.Control.Retry, runId, RunHistoryEvents.RetryRequested, cancellationToken);

    /// <inheritdoc/>
    public Task<RunControlResult> ResumeRunAsync(string runId, CancellationToken cancellationToken = default) =>
        ControlAsync(_sql.Control.Resume, runId, RunHistoryEvents.Resumed, cancellationToken);

    /// <inheritdoc/>
    public Task<ForkResult> ForkRunAsync(RunFork fork, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fork);
        return LockConflicts.RetryAsync(() => ForkOnceAsync(fork, cancellationToken), cancellationToken);
    }

    private async Task<ForkResult> ForkOnceAsync(RunFork fork, CancellationToken cancellationToken)
    {
        await using var batch = _dataSource.CreateBatch();
        var create = new NpgsqlBatchCommand(_sql.Control.Fork);
        create.Parameters.Add(Text(fork.SourceRunId));
        create.Parameters.Add(Text(fork.NewRunId));
        create.Parameters.Add(new NpgsqlParameter<int> { TypedValue = fork.FromStep });
        create.Parameters.Add(new NpgsqlParameter<int?> { TypedValue = fork.WorkflowVersion });
        create.Parameters.Add(Text(fork.Queue));
        create.Parameters.Add(Text(_sql.Channel));
        create.Parameters.Add(Text(fork.TraceParent));
        create.Parameters.Add(Text(fork.TraceState));
        var read = new NpgsqlBatchCommand(_sql.Runs.GetRun);
        read.Parameters.Add(Text(fork.NewRunId));
        batch.BatchCommands.Add(create);
        batch.BatchCommands.Add(read);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var (sourceFound, stepFound, beforeCompleted, noChildren, created) =
            (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4));
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var run = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? PostgresReaders.ReadRun(reader) : null;

        var status = created ? ForkStatus.Created
            : run is not null ? (run.ForkedFromRunId == fork.SourceRunId && run.ForkedAtStep == fork.FromStep ? ForkStatus.Existed : ForkStatus.IdTaken)
            : !sourceFound ? ForkStatus.SourceNotFound
            : !beforeCompleted ? ForkStatus.StepsBeforeNotCompleted
            : !noChildren ? ForkStatus.ChildrenBefore
            : !stepFound ? ForkStatus.NoSuchStep
            : throw new InvalidOperationException($"The fork of '{fork.SourceRunId}' as '{fork.NewRunId}' was neither made nor refused.");
        return new ForkResult(status, run);
    }

    /// <summary>One control statement on one run, then the run as it is after it, and whether its history holds <paramref name="historyEvent"/>.</summary>
    private Task<RunControlResult> ControlAsync(string statement, string runId, string historyEvent, CancellationToken cancellationToken) =>
        LockConflicts.RetryAsync(() => ControlOnceAsync(statement, runId, historyEvent, cancellationToken), cancellationToken);

    private async Task<RunControlResult> ControlOnceAsync(string statement, string runId, string historyEvent, CancellationToken cancellationToken)
    {
        await using var batch = _dataSource.CreateBatch();
        var change = new NpgsqlBatchCommand(statement);
        change.Parameters.Add(Text(runId));
        change.Parameters.Add(Text(_sql.Channel));
        var read = new NpgsqlBatchCommand(_sql.Runs.GetRun);
        read.Parameters.Add(Text(runId));
        var requested = new NpgsqlBatchCommand(_sql.Control.HistoryHas);
        requested.Parameters.Add(Text(runId));
        requested.Parameters.Add(Text(historyEvent));
        batch.BatchCommands.Add(change);
        batch.BatchCommands.Add(read);
        batch.BatchCommands.Add(requested);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var changed = reader.GetInt64(0) > 0;
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var run = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? PostgresReaders.ReadRun(reader) : null;
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new RunControlResult(changed, run, reader.GetBoolean(0));
    }
}

/// <summary>The statements of <c>PostgresStore.RunControl.cs</c>: retry, resume, fork.</summary>
internal sealed class RunControlSql
{
    public RunControlSql(string s)
    {
        // $1 the run, $2 the notification channel. The whole attempt budget again (max_attempts is what is charged
        // so far plus the budget); the steps and items that failed for good run again, their attempts counted anew.
        Retry = $"""
            WITH retried AS (
                UPDATE {s}.runs r SET
                    status = {Sql.Pending}, error = NULL, output = NULL, completed_at = NULL, cancel_requested = false,
                    worker_losses = 0, max_attempts = r.attempt + r.max_attempts, wait_reason = NULL,
                    deadline_at = now() + r.timeout, scheduled_at = now(), updated_at = now()
                FROM (SELECT id, error FROM {s}.runs WHERE id = $1) old
                WHERE r.id = old.id AND r.status = {Sql.Failed}
                RETURNING r.id, r.queue, r.epoch, r.attempt, old.error
            ), reset AS (
                UPDATE {s}.steps st SET status = {Sql.Running}, completed_at = NULL
                FROM retried x WHERE st.run_id = x.id AND st.status = {Sql.Failed}
            ){Sql.History(s, "recorded", $"SELECT id, now(), '{RunHistoryEvents.RetryRequested}', NULL, epoch, attempt, jsonb_build_object('error', error) FROM retried")}, notified AS (
                SELECT pg_notify($2, 'w:' || queue), pg_notify($2, 'o:' || id) FROM retried
            )
            SELECT count(*) FROM retried WHERE (SELECT count(*) FROM notified) >= 0
            """;

        // A cancelled run takes along the children its cancel cancelled (those that follow their parent's cancel), and
        // theirs; a run stopped by worker losses goes alone.
        Resume = $"""
            WITH RECURSIVE family AS (
                SELECT r.id, r.status AS was, NULL::text AS via FROM {s}.runs r
                WHERE r.id = $1
                  AND (r.status = {Sql.Cancelled} OR (r.status = {Sql.Failed} AND r.error ->> 'type' = '{Sql.WorkerLossLimitErrorType}'))
                UNION
                SELECT c.id, c.status, $1 FROM {s}.runs c JOIN family f ON c.parent_id = f.id
                WHERE c.cancel_with_parent AND c.status = {Sql.Cancelled}
            ), resumed AS (
                UPDATE {s}.runs r SET
                    status = {Sql.Pending}, worker_losses = 0, error = NULL, completed_at = NULL, cancel_requested = false,
                    wait_reason = NULL, deadline_at = now() + r.timeout, scheduled_at = now(), updated_at = now()
                FROM family f
                WHERE r.id = f.id AND r.status = f.was
                RETURNING r.id, r.queue, r.epoch, r.attempt, f.was, f.via
            ){Sql.History(s, "recorded", $"""
                SELECT id, now(), '{RunHistoryEvents.Resumed}', NULL, epoch, attempt,
                       jsonb_strip_nulls(jsonb_build_object('from', CASE WHEN was = {Sql.Cancelled} THEN 'cancelled' ELSE 'worker_losses' END, 'via', via))
                FROM resumed
                """)}, notified AS (
                SELECT pg_notify($2, 'w:' || queue) FROM (SELECT DISTINCT queue FROM resumed) q
                UNION ALL
                SELECT pg_notify($2, 'o:' || id) FROM resumed
            )
            SELECT count(*) FROM resumed WHERE id = $1 AND (SELECT count(*) FROM notified) >= 0
            """;

        // $1 the source, $2 the new id, $3 the step position it runs again from, $4 the version and $5 the queue (null:
        // the source's), $6 the channel, $7 and $8 the forking caller's trace context. The copied rows keep their times and take epoch 0, which no claim has, so the
        // fork's history does not show them as its own steps.
        Fork = $"""
            WITH source AS (
                SELECT * FROM {s}.runs WHERE id = $1
            ), checks AS (
                SELECT EXISTS (SELECT 1 FROM {s}.steps WHERE run_id = $1 AND seq = $3) AS step_found,
                       NOT EXISTS (SELECT 1 FROM {s}.steps WHERE run_id = $1 AND seq < $3 AND status <> {Sql.Completed}) AS before_completed,
                       NOT EXISTS (SELECT 1 FROM {s}.steps WHERE run_id = $1 AND seq < $3 AND item_index IS NULL
                                   AND (name LIKE 'child %' OR name LIKE 'children %') AND result ? 'runIds') AS no_children
            ), inserted AS (
                INSERT INTO {s}.runs (id, workflow_name, workflow_version, queue, priority, status, input, correlation_id, tags,
                                      max_attempts, max_worker_losses, timeout, deadline_at, forked_from, forked_at_step, trace_parent, trace_state)
                SELECT $2, o.workflow_name, coalesce($4, o.workflow_version), coalesce($5, o.queue), o.priority, {Sql.Pending}, o.input,
                       o.correlation_id, o.tags, o.max_attempts, o.max_worker_losses, o.timeout, now() + o.timeout, o.id, $3, $7, $8
                FROM source o, checks k WHERE k.step_found AND k.before_completed AND k.no_children
                ON CONFLICT (id) DO NOTHING
                RETURNING id, queue
            ), copied AS (
                INSERT INTO {s}.steps (run_id, seq, item_index, name, status, result, error, attempt_errors, attempts, epoch, started_at, completed_at)
                SELECT i.id, st.seq, st.item_index, st.name, st.status, st.result, st.error, st.attempt_errors, st.attempts, 0,
                       st.started_at, st.completed_at
                FROM inserted i JOIN {s}.steps st ON st.run_id = $1 AND st.seq < $3
            ){Sql.History(s, "recorded", $"SELECT id, now(), '{RunHistoryEvents.Forked}', NULL, NULL, NULL, jsonb_build_object('from', $1::text, 'step', $3) FROM inserted")}, notified AS (
                SELECT pg_notify($6, 'w:' || queue) FROM inserted
            )
            SELECT EXISTS (SELECT 1 FROM source), k.step_found, k.before_completed, k.no_children,
                   EXISTS (SELECT 1 FROM inserted) AND (SELECT count(*) FROM notified) >= 0
            FROM checks k
            """;

        HistoryHas = $"SELECT EXISTS (SELECT 1 FROM {s}.history WHERE run_id = $1 AND event = $2)";
    }

    public string Retry { get; }
    public string Resume { get; }
    public string Fork { get; }
    public string HistoryHas { get; }
}
