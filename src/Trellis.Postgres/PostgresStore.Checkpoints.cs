using Npgsql;
using NpgsqlTypes;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <summary>
    /// Writes a checkpoint batch as one <see cref="NpgsqlBatch"/>: at most three statements (steps,
    /// progress, run outcomes), each taking all of its rows as arrays through <c>unnest</c>, sent in one
    /// round trip and committed as one implicit transaction.
    /// </summary>
    public async Task CommitAsync(CheckpointBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        await using var command = _dataSource.CreateBatch();
        if (batch.Steps.Count > 0)
        {
            command.BatchCommands.Add(StepsCommand(batch.Steps));
        }

        if (batch.Progress.Count > 0)
        {
            command.BatchCommands.Add(ProgressCommand(batch.Progress));
        }

        if (batch.Finishes.Count > 0)
        {
            command.BatchCommands.Add(FinishCommand(batch.Finishes, batch.WorkerId));
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (batch.Steps.Count > 0)
        {
            var written = new HashSet<(string, int, int)>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                written.Add((reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? -1 : reader.GetInt32(2)));
            }

            foreach (var step in batch.Steps)
            {
                step.Applied = written.Contains(step.Key);
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }

        if (batch.Progress.Count > 0)
        {
            await MarkAppliedAsync(reader, batch.Progress, cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }

        if (batch.Finishes.Count > 0)
        {
            await MarkFinishesAppliedAsync(reader, batch.Finishes, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Marks the outcomes written, and those written as a cancellation because a cancel came first.</summary>
    private static async Task MarkFinishesAppliedAsync(NpgsqlDataReader reader, List<RunFinish> finishes, CancellationToken cancellationToken)
    {
        var written = new Dictionary<string, string>(finishes.Count, StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            written[reader.GetString(0)] = reader.GetString(1);
        }

        foreach (var finish in finishes)
        {
            finish.Applied = written.TryGetValue(finish.RunId, out var status);
            finish.CancelledInstead = finish.Applied && finish.Kind != RunFinishKind.Cancelled && status == "cancelled";
        }
    }

    private NpgsqlBatchCommand StepsCommand(List<StepWrite> steps)
    {
        var count = steps.Count;
        var runIds = new string[count];
        var epochs = new long[count];
        var sequences = new int[count];
        var items = new int?[count];
        var names = new string[count];
        var statuses = new string[count];
        var results = new string?[count];
        var errors = new string?[count];
        var newErrors = new string?[count];
        var attempts = new int[count];
        var startedAt = new DateTimeOffset[count];
        var completedAt = new DateTimeOffset?[count];
        for (var i = 0; i < count; i++)
        {
            var step = steps[i];
            runIds[i] = step.RunId;
            epochs[i] = step.Epoch;
            sequences[i] = step.Sequence;
            items[i] = step.ItemIndex;
            names[i] = step.Name;
            statuses[i] = step.Status.ToText();
            results[i] = step.ResultJson;
            errors[i] = step.ErrorJson;
            newErrors[i] = step.NewErrorsJson.Count == 0 ? null : $"[{string.Join(',', step.NewErrorsJson)}]";
            attempts[i] = step.Attempts;
            startedAt[i] = step.StartedAt.ToUniversalTime();
            completedAt[i] = step.CompletedAt?.ToUniversalTime();
        }

        var command = new NpgsqlBatchCommand(_sql.Checkpoints.WriteSteps);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<string[]> { TypedValue = runIds });
        p.Add(new NpgsqlParameter<long[]> { TypedValue = epochs });
        p.Add(new NpgsqlParameter<int[]> { TypedValue = sequences });
        p.Add(new NpgsqlParameter<int?[]> { TypedValue = items });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = names });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = statuses });
        p.Add(JsonbArray(results));
        p.Add(JsonbArray(errors));
        p.Add(JsonbArray(newErrors));
        p.Add(new NpgsqlParameter<int[]> { TypedValue = attempts });
        p.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = startedAt });
        p.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = completedAt });
        return command;
    }

    private NpgsqlBatchCommand ProgressCommand(List<ProgressWrite> progress)
    {
        var command = new NpgsqlBatchCommand(_sql.Checkpoints.WriteProgress);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. progress.Select(w => w.RunId)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. progress.Select(w => w.Epoch)] });
        command.Parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. progress.Select(w => w.Percent)] });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. progress.Select(w => w.Message)] });
        return command;
    }

    private NpgsqlBatchCommand FinishCommand(List<RunFinish> finishes, string? workerId)
    {
        var command = new NpgsqlBatchCommand(_sql.Checkpoints.FinishRuns);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. finishes.Select(f => f.RunId)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. finishes.Select(f => f.Epoch)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. finishes.Select(f => Sql.KindText(f.Kind))] });
        command.Parameters.Add(JsonbArray([.. finishes.Select(f => f.OutputJson)]));
        command.Parameters.Add(JsonbArray([.. finishes.Select(f => f.ErrorJson)]));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = [.. finishes.Select(f => f.RetryDelay)] });
        command.Parameters.Add(new NpgsqlParameter<int?[]> { TypedValue = [.. finishes.Select(f => f.ResetStepSequence)] });
        command.Parameters.Add(Text(_sql.Channel));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = [.. finishes.Select(f => f.WakeAt?.ToUniversalTime())] });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan?[]> { TypedValue = [.. finishes.Select(f => f.WakeAfter)] });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. finishes.Select(f => f.WaitReason)] });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = workerId });
        return command;
    }

    private static async Task MarkAppliedAsync(NpgsqlDataReader reader, IEnumerable<CheckpointWrite> writes, CancellationToken cancellationToken)
    {
        var applied = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            applied.Add(reader.GetString(0));
        }

        foreach (var write in writes)
        {
            write.Applied = applied.Contains(write.RunId);
        }
    }

    internal static NpgsqlParameter JsonbArray(string?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = values };
}

/// <summary>The statements of <c>PostgresStore.Checkpoints.cs</c>: step rows, progress and run outcomes, each fenced by the epoch.</summary>
internal sealed class CheckpointSql
{
    public CheckpointSql(string s)
    {
        WriteSteps = $"""
            WITH written AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::int[], $5::text[], $6::text[],
                                     $7::jsonb[], $8::jsonb[], $9::jsonb[], $10::int[], $11::timestamptz[], $12::timestamptz[])
                    AS w(run_id, epoch, seq, item_index, name, status, result, error, new_errors, attempts, started_at, completed_at)
            ), holder AS (
                -- Fencing: only runs still running under the writer's epoch. FOR SHARE makes a concurrent
                -- claim (which raises the epoch) wait for this transaction, or makes this one see the raise.
                -- The rows are found by primary key only (status is checked on the locked row below): with
                -- a status condition here, the generic plan of a prepared statement walked every running run
                -- once per written row.
                SELECT r.id, r.epoch, r.status FROM {s}.runs r
                WHERE r.id = ANY($1::text[])
                ORDER BY r.id
                FOR SHARE
            )
            INSERT INTO {s}.steps AS s (run_id, seq, item_index, name, status, result, error, attempt_errors,
                                        attempts, epoch, started_at, completed_at)
            SELECT w.run_id, w.seq, w.item_index, w.name, w.status, w.result, w.error, w.new_errors,
                   w.attempts, w.epoch, w.started_at, w.completed_at
            FROM written w JOIN holder h ON h.id = w.run_id AND h.epoch = w.epoch AND h.status = {Sql.Running}
            ON CONFLICT (run_id, seq, (coalesce(item_index, -1))) DO UPDATE SET
                status = EXCLUDED.status,
                result = EXCLUDED.result,
                error = coalesce(EXCLUDED.error, s.error),
                attempt_errors = CASE
                    WHEN EXCLUDED.attempt_errors IS NULL OR s.attempt_errors @> EXCLUDED.attempt_errors THEN s.attempt_errors
                    ELSE coalesce(s.attempt_errors, '[]'::jsonb) || EXCLUDED.attempt_errors END,
                attempts = EXCLUDED.attempts,
                epoch = EXCLUDED.epoch,
                started_at = least(s.started_at, EXCLUDED.started_at),
                completed_at = EXCLUDED.completed_at
            -- A completed row is final; only the same execution may write it again (a retried batch).
            WHERE s.status <> {Sql.Completed} OR (s.epoch = EXCLUDED.epoch AND EXCLUDED.status = {Sql.Completed})
            RETURNING s.run_id, s.seq, s.item_index
            """;

        WriteProgress = $"""
            WITH progressed AS (
                UPDATE {s}.runs r SET progress_percent = p.percent, progress_message = p.message, updated_at = now()
                FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::text[]) AS p(id, epoch, percent, message)
                WHERE r.id = p.id AND r.epoch = p.epoch AND r.status = {Sql.Running}
                RETURNING r.id, r.epoch, r.attempt, p.percent, p.message
            ){Sql.History(s, "recorded", $"""
                SELECT id, now(), '{RunHistoryEvents.Progress}', NULL, epoch, attempt, jsonb_build_object('percent', percent, 'message', message)
                FROM progressed
                """)}
            SELECT id FROM progressed
            """;

        // Every outcome is a row of RunTransitions: o is the transition as written (a cancel that came first wins).
        var o = Sql.Outcome("f.kind", "r.cancel_requested");
        FinishRuns = $"""
            WITH finish AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[], $5::jsonb[], $6::interval[], $7::int[],
                                     $9::timestamptz[], $10::interval[], $11::text[])
                    AS f(id, epoch, kind, output, error, delay, reset_seq, wake_at, wake_after, wait_reason)
            ), finished AS (
                UPDATE {s}.runs r SET
                    status = {Sql.StatusAfter(o)},
                    output = CASE WHEN {o} = 'completed' THEN f.output ELSE r.output END,
                    error = CASE WHEN {o} IN ('failed', 'retry') THEN f.error WHEN {o} = 'completed' THEN NULL ELSE r.error END,
                    attempt = r.attempt + {Sql.AttemptChange(o)},
                    scheduled_at = {Sql.ScheduledAfter(o, keep: "r.scheduled_at", afterDelay: "now() + f.delay", now: "now()",
                                                       wakeTime: "least(coalesce(f.wake_at, now() + f.wake_after, 'infinity'), r.deadline_at)")},
                    wait_reason = CASE WHEN {o} = 'suspend' THEN f.wait_reason END,
                    -- Kept by a batch written again after its commit was lost.
                    completed_at = CASE WHEN {Sql.Finishes(o)} THEN coalesce(r.completed_at, now()) END,
                    locked_by = NULL,
                    lease_expires_at = NULL,
                    updated_at = now()
                FROM finish f
                WHERE r.id = f.id AND r.epoch = f.epoch
                  -- Running, or finished by this very outcome already (a batch written again after its commit was lost).
                  AND (r.status = {Sql.Running} OR ({Sql.Finishes(o)} AND r.status = {Sql.StatusAfter(o)} AND r.locked_by IS NULL))
                RETURNING r.id, r.status, r.queue, r.epoch, r.attempt, r.wait_reason, f.error, {Sql.HistoryEventOf(o)} AS event,
                          -- false for a batch written again: its outcome is in the history already
                          r.completed_at IS NULL OR r.completed_at = now() AS first
            ){Sql.History(s, "recorded", $"""
                SELECT id, now(), event, $12, epoch, attempt,
                       CASE WHEN event = '{RunHistoryEvents.Waiting}' THEN jsonb_build_object('reason', wait_reason)
                            WHEN event IN ('{RunHistoryEvents.Failed}', '{RunHistoryEvents.Retried}') THEN jsonb_build_object('error', error) END
                FROM finished WHERE first
                """)}, reset AS (
                UPDATE {s}.steps st SET status = {Sql.Running}, completed_at = NULL
                FROM finished x JOIN finish f ON f.id = x.id
                WHERE f.kind = 'retry' AND x.status = {Sql.Pending} AND f.reset_seq IS NOT NULL
                  AND st.run_id = x.id AND st.seq = f.reset_seq AND st.status = {Sql.Failed}
            ){Sql.Notifications("finished", "$8")}
            SELECT id, status FROM finished WHERE (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
            """;
    }

    public string WriteSteps { get; }
    public string WriteProgress { get; }
    public string FinishRuns { get; }
}
