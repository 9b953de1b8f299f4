using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<IReadOnlyList<CreatedRun>> CreateRunsAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand(_sql.Runs.CreateRuns);
        var parameters = command.Parameters;
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runs.Select(r => r.Id)] });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runs.Select(r => r.WorkflowName)] });
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.WorkflowVersion)] });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runs.Select(r => r.Queue)] });
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.Priority)] });
        parameters.Add(JsonbArray([.. runs.Select(r => r.InputJson)]));
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.CorrelationId)] });
        parameters.Add(JsonbArray([.. runs.Select(r => PostgresReaders.TagsToJson(r.Tags))]));
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.MaxAttempts)] });
        parameters.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = [.. runs.Select(r => r.ScheduledAt?.ToUniversalTime())] });
        parameters.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = [.. runs.Select(r => r.Delay ?? TimeSpan.Zero)] });
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.ClaimFor?.WorkerId)] });
        parameters.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = [.. runs.Select(r => r.ClaimFor?.LeaseDuration ?? TimeSpan.Zero)] });
        parameters.Add(Text(_sql.Channel));
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.MaxWorkerLosses)] });
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.ParentRunId)] });
        parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = [.. runs.Select(r => r.CancelWithParent)] });
        parameters.Add(new NpgsqlParameter<TimeSpan?[]> { TypedValue = [.. runs.Select(r => r.Timeout)] });
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.TraceParent)] });
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.TraceState)] });

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var created = new List<CreatedRun>(runs.Count);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            created.Add(new CreatedRun(
                reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt64(4),
                reader.GetBoolean(5)));
        }

        return created;
    }

    /// <inheritdoc/>
    public async Task<int> CreateRunBatchAsync(NewRunBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await using var command = _dataSource.CreateCommand(_sql.Runs.CreateRunBatch);
        var parameters = command.Parameters;
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. batch.Ids] });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = batch.InputsJson as string[] ?? [.. batch.InputsJson] });
        parameters.Add(Text(batch.WorkflowName));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.WorkflowVersion });
        parameters.Add(Text(batch.Queue));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.Priority });
        parameters.Add(Text(batch.CorrelationId));
        parameters.Add(Jsonb(PostgresReaders.TagsToJson(batch.Tags)));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.MaxAttempts });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = batch.ScheduledAt is { } at ? at.ToUniversalTime() : DBNull.Value });
        parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = batch.Delay ?? TimeSpan.Zero });
        parameters.Add(Text(_sql.Channel));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.MaxWorkerLosses });
        parameters.Add(new NpgsqlParameter<TimeSpan?> { TypedValue = batch.Timeout });
        parameters.Add(Text(batch.TraceParent));
        parameters.Add(Text(batch.TraceState));
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public async Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.Runs.GetRun);
        command.Parameters.Add(Text(runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? PostgresReaders.ReadRun(reader) : null;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunInfo>> GetFinishedRunsAsync(IReadOnlyCollection<string> runIds, CancellationToken cancellationToken = default)
    {
        if (runIds.Count == 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand(_sql.Runs.GetFinishedRuns);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runIds] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadRunsAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        // One round trip: a batch is one implicit transaction, so the plan setting (local to the transaction)
        // holds for the listing and is gone after it.
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(RunListing.PlanForArguments));
        batch.BatchCommands.Add(RunListing.Command(Schema, query));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the plan setting's result
        return RunListing.Page(await ReadRunsAsync(reader, cancellationToken).ConfigureAwait(false), query.Limit);
    }

    /// <inheritdoc/>
    public async Task<ReplaySteps> GetReplayStepsAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        var plain = new NpgsqlBatchCommand(_sql.Runs.GetPlainSteps);
        plain.Parameters.Add(Text(runId));
        var perItem = new NpgsqlBatchCommand(_sql.Runs.GetPerItemPositions);
        perItem.Parameters.Add(Text(runId));
        batch.BatchCommands.Add(plain);
        batch.BatchCommands.Add(perItem);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var steps = new List<StepInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            steps.Add(PostgresReaders.ReadStep(reader));
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var positions = new List<PerItemPosition>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            positions.Add(new PerItemPosition(reader.GetInt32(0), reader.GetString(1)));
        }

        return new ReplaySteps(steps, positions);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StepInfo>> GetStepItemsAsync(string runId, int sequence, int afterItemIndex, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = _dataSource.CreateCommand(_sql.Runs.GetStepItems);
        command.Parameters.Add(Text(runId));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = sequence });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = afterItemIndex });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var items = new List<StepInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(PostgresReaders.ReadStep(reader));
        }

        return items;
    }

    /// <inheritdoc/>
    public async Task<StepOverview> GetStepOverviewAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        var plain = new NpgsqlBatchCommand(_sql.Runs.GetPlainSteps);
        plain.Parameters.Add(Text(runId));
        var perItem = new NpgsqlBatchCommand(_sql.Runs.GetPerItemSummaries);
        perItem.Parameters.Add(Text(runId));
        batch.BatchCommands.Add(plain);
        batch.BatchCommands.Add(perItem);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var steps = new List<StepInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            steps.Add(PostgresReaders.ReadStep(reader));
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var summaries = new List<PerItemSummary>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            summaries.Add(new PerItemSummary(
                reader.GetInt32(0), reader.GetString(1), (int)reader.GetInt64(2), (int)reader.GetInt64(3), (int)reader.GetInt64(4), (int)reader.GetInt64(5),
                reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7)));
        }

        return new StepOverview(steps, summaries);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StepInfo>> GetStepsAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.Runs.GetSteps);
        command.Parameters.Add(Text(runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var steps = new List<StepInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            steps.Add(PostgresReaders.ReadStep(reader));
        }

        return steps;
    }

    /// <inheritdoc/>
    public Task<RunInfo?> RequestCancelAsync(string runId, CancellationToken cancellationToken = default) =>
        LockConflicts.RetryAsync(() => RequestCancelOnceAsync(runId, cancellationToken), cancellationToken);

    /// <inheritdoc/>
    public Task CancelChildrenAsync(string runId, CancellationToken cancellationToken = default) =>
        LockConflicts.RetryAsync(async () =>
        {
            await using var command = _dataSource.CreateCommand(_sql.Runs.CancelChildren);
            command.Parameters.Add(Text(runId));
            command.Parameters.Add(Text(_sql.Channel));
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    private async Task<RunInfo?> RequestCancelOnceAsync(string runId, CancellationToken cancellationToken)
    {
        await using var batch = _dataSource.CreateBatch();
        var cancel = new NpgsqlBatchCommand(_sql.Runs.RequestCancel);
        cancel.Parameters.Add(Text(runId));
        cancel.Parameters.Add(Text(_sql.Channel));
        var read = new NpgsqlBatchCommand(_sql.Runs.GetRun);
        read.Parameters.Add(Text(runId));
        batch.BatchCommands.Add(cancel);
        batch.BatchCommands.Add(read);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? PostgresReaders.ReadRun(reader) : null;
    }

    /// <inheritdoc/>
    public async Task RegisterDefinitionsAsync(IReadOnlyCollection<DefinitionRecord> definitions, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.Runs.RegisterDefinitions);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. definitions.Select(d => d.Name)] });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. definitions.Select(d => d.Version)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. definitions.Select(d => d.InputType)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. definitions.Select(d => d.OutputType)] });
        command.Parameters.Add(new NpgsqlParameter<int?[]> { TypedValue = [.. definitions.Select(d => d.MaxWorkerLosses)] });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<DefinitionRecord>> GetDefinitionsAsync(string workflowName, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.Runs.GetDefinitions);
        command.Parameters.Add(Text(workflowName));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var definitions = new List<DefinitionRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            definitions.Add(new DefinitionRecord(
                reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4)));
        }

        return definitions;
    }

    /// <summary>The rows of the reader's current result, as runs.</summary>
    private static async Task<List<RunInfo>> ReadRunsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var runs = new List<RunInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            runs.Add(PostgresReaders.ReadRun(reader));
        }

        return runs;
    }

    internal static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    internal static NpgsqlParameter Jsonb(string? json) => new() { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = json is null ? DBNull.Value : json };
}

/// <summary>The statements of <c>PostgresStore.Runs.cs</c>: starts, reads, cancels, resumes, definitions.</summary>
internal sealed class RunsSql
{
    public RunsSql(string s)
    {
        CreateRuns = $"""
            WITH wanted AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::jsonb[], $7::text[],
                                     $8::jsonb[], $9::int[], $10::timestamptz[], $11::interval[], $12::text[], $13::interval[],
                                     $15::int[], $16::text[], $17::boolean[], $18::interval[], $19::text[], $20::text[])
                    AS w(id, workflow_name, workflow_version, queue, priority, input, correlation_id, tags,
                         max_attempts, scheduled_at, delay, claim_for, lease, max_worker_losses, parent_id, cancel_with_parent, timeout,
                         trace_parent, trace_state)
            ), busy AS MATERIALIZED (
                -- A new run goes straight to the starting process's worker only when nothing is waiting
                -- in its queue, so it never overtakes ready work. Looked up once per queue.
                SELECT q.queue FROM (SELECT DISTINCT queue FROM wanted WHERE claim_for IS NOT NULL) q
                WHERE EXISTS (SELECT 1 FROM {s}.runs r WHERE r.status = {Sql.Pending} AND r.queue = q.queue AND r.scheduled_at <= now())
            ), inserted AS (
                INSERT INTO {s}.runs (id, workflow_name, workflow_version, queue, priority, status, input, correlation_id,
                                      tags, max_attempts, max_worker_losses, scheduled_at, epoch, attempt, locked_by,
                                      lease_expires_at, started_at, parent_id, cancel_with_parent, deadline_at, timeout,
                                      trace_parent, trace_state)
                SELECT w.id, w.workflow_name, w.workflow_version, w.queue, w.priority,
                       CASE WHEN c.claim THEN {Sql.Running} ELSE {Sql.Pending} END, w.input, w.correlation_id, w.tags,
                       w.max_attempts, w.max_worker_losses, coalesce(w.scheduled_at, now() + w.delay),
                       CASE WHEN c.claim THEN {Sql.ClaimEpoch} ELSE 0 END, CASE WHEN c.claim THEN 1 ELSE 0 END,
                       CASE WHEN c.claim THEN w.claim_for END, CASE WHEN c.claim THEN now() + w.lease END,
                       CASE WHEN c.claim THEN now() END, w.parent_id, w.cancel_with_parent, now() + w.timeout, w.timeout,
                       w.trace_parent, w.trace_state
                FROM wanted w
                CROSS JOIN LATERAL (SELECT w.claim_for IS NOT NULL AND w.queue NOT IN (SELECT queue FROM busy)) AS c(claim)
                ON CONFLICT (id) DO NOTHING
                RETURNING id, status, queue, scheduled_at, epoch, attempt, locked_by, parent_id, workflow_name
            ){Sql.History(s, "recorded", $"""
                SELECT id, now(), '{RunHistoryEvents.Claimed}', locked_by, epoch, attempt, NULL::jsonb FROM inserted WHERE status = {Sql.Running}
                UNION ALL
                -- In the parent's history: the children it started.
                SELECT parent_id, now(), '{RunHistoryEvents.ChildStarted}', NULL, NULL, NULL, jsonb_build_object('child', id, 'workflow', workflow_name)
                FROM inserted WHERE parent_id IS NOT NULL
                """)}, notified AS (
                SELECT pg_notify($14, 'w:' || queue)
                FROM (SELECT DISTINCT queue FROM inserted WHERE status = {Sql.Pending} AND scheduled_at <= now()) q
            )
            -- For a run that existed: its stored workflow (r sees the table as it was before this statement).
            SELECT w.id, i.id IS NOT NULL, coalesce(i.status = {Sql.Running}, false),
                   CASE WHEN i.id IS NOT NULL THEN w.workflow_name ELSE r.workflow_name END, coalesce(i.epoch, 0),
                   i.id IS NOT NULL OR r.input IS NOT DISTINCT FROM w.input
            FROM wanted w
            LEFT JOIN inserted i ON i.id = w.id
            LEFT JOIN {s}.runs r ON i.id IS NULL AND r.id = w.id
            WHERE (SELECT count(*) FROM notified) >= 0
            """;

        // A plain insert: the ids are new by contract (NewRunBatch), and "ON CONFLICT DO NOTHING" would make
        // each row a speculative insertion (a check of the key first, a confirmation record after).
        CreateRunBatch = $"""
            WITH inserted AS (
                INSERT INTO {s}.runs (id, workflow_name, workflow_version, queue, priority, status, input,
                                      correlation_id, tags, max_attempts, max_worker_losses, scheduled_at, deadline_at, timeout,
                                      trace_parent, trace_state)
                SELECT n.id, $3, $4, $5, $6, {Sql.Pending}, n.input, $7, $8, $9, $13, coalesce($10, now() + $11), now() + $14, $14,
                       $15, $16
                FROM unnest($1::text[], $2::jsonb[]) AS n(id, input)
                RETURNING scheduled_at
            ), notified AS (
                SELECT pg_notify($12, 'w:' || $5) WHERE EXISTS (SELECT 1 FROM inserted WHERE scheduled_at <= now())
            )
            SELECT (SELECT count(*) FROM inserted) + 0 * (SELECT count(*) FROM notified)
            """;

        GetRun = $"SELECT {Sql.RunColumns("r")} FROM {s}.runs r WHERE r.id = $1";

        GetFinishedRuns = $"""
            SELECT {Sql.RunColumns("r")} FROM {s}.runs r
            -- Finished, by status: no index that the lookup could use is keyed or conditioned on exactly these
            -- statuses, so its plan is the primary key alone. Stated as "completed_at IS NOT NULL" (equivalent), it
            -- matched the finished runs' listing indexes, and a plan kept from a young table read all of them.
            WHERE r.id = ANY($1) AND r.status IN {Sql.FinishedStatuses}
            """;

        // A run that holds no worker (pending, or waiting) is cancelled at once; a running one is marked, and its
        // worker told. So are its children that follow their parent's cancel, and theirs, however deep.
        RequestCancel = Cancel("""SELECT $1::text COLLATE "C" AS id""");

        // Only the children (and theirs) of a run that has finished: not of one retried or resumed meanwhile.
        CancelChildren = Cancel($"""
            SELECT c.id FROM {s}.runs c JOIN {s}.runs p ON p.id = c.parent_id
            WHERE c.parent_id = $1 AND c.cancel_with_parent AND p.status IN {Sql.FinishedStatuses}
            """);

        // $1 the run the cancel is for, $2 the notification channel; the family starts from the roots given.
        string Cancel(string roots) => $"""
            WITH RECURSIVE family AS (
                {roots}
                UNION
                SELECT c.id FROM {s}.runs c JOIN family f ON c.parent_id = f.id WHERE c.cancel_with_parent
            ), cancelled AS (
                UPDATE {s}.runs r SET
                    status = CASE WHEN r.status = {Sql.Running} THEN r.status ELSE {Sql.Cancelled} END,
                    completed_at = CASE WHEN r.status = {Sql.Running} THEN r.completed_at ELSE now() END,
                    cancel_requested = true,
                    wait_reason = NULL,
                    updated_at = now()
                WHERE r.id IN (SELECT id FROM family) AND r.status IN ({Sql.Pending}, {Sql.Waiting}, {Sql.Running})
                RETURNING r.id, r.status, r.epoch, r.attempt
            ){Sql.History(s, "recorded", $"""
                SELECT id, now(), '{RunHistoryEvents.CancelRequested}', NULL, epoch, attempt,
                       CASE WHEN id <> $1 THEN jsonb_build_object('via', $1::text) END
                FROM cancelled
                UNION ALL
                SELECT id, now(), '{RunHistoryEvents.Cancelled}', NULL, epoch, attempt, NULL FROM cancelled WHERE status = {Sql.Cancelled}
                """)}, notified AS (
                SELECT pg_notify($2, CASE WHEN status = {Sql.Running} THEN 'c:' ELSE 'd:' END || id) FROM cancelled
            )
            SELECT count(*) FROM notified
            """;

        GetSteps = $"""
            SELECT {Sql.StepColumns} FROM {s}.steps
            WHERE run_id = $1
            ORDER BY seq, coalesce(item_index, -1)
            """;

        GetPlainSteps = $"""
            SELECT {Sql.StepColumns} FROM {s}.steps
            WHERE run_id = $1 AND coalesce(item_index, -1) = -1
            ORDER BY seq
            """;

        // One row per per-item position: a skip scan of steps_key, from each position to the next (rows are not read).
        GetPerItemPositions = $"""
            WITH RECURSIVE positions AS (
                (SELECT seq, name FROM {s}.steps WHERE run_id = $1 AND coalesce(item_index, -1) >= 0 ORDER BY seq LIMIT 1)
                UNION ALL
                SELECT n.seq, n.name FROM positions p CROSS JOIN LATERAL (
                    SELECT seq, name FROM {s}.steps WHERE run_id = $1 AND seq > p.seq AND coalesce(item_index, -1) >= 0 ORDER BY seq LIMIT 1) n
            )
            SELECT seq, name FROM positions
            """;

        GetStepItems = $"""
            SELECT {Sql.StepColumns} FROM {s}.steps
            WHERE run_id = $1 AND seq = $2 AND coalesce(item_index, -1) > $3
            ORDER BY coalesce(item_index, -1)
            LIMIT $4
            """;

        // The run's item rows, one range of steps_key, grouped by position.
        GetPerItemSummaries = $"""
            SELECT seq, min(name), count(*), count(*) FILTER (WHERE status = {Sql.Completed}), count(*) FILTER (WHERE status = {Sql.Failed}),
                   count(*) FILTER (WHERE status = {Sql.Running}), min(started_at), max(completed_at)
            FROM {s}.steps
            WHERE run_id = $1 AND coalesce(item_index, -1) >= 0
            GROUP BY seq ORDER BY seq
            """;

        RegisterDefinitions = $"""
            INSERT INTO {s}.workflow_definitions (name, version, input_type, output_type, max_worker_losses)
            SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[])
            ON CONFLICT (name, version) DO UPDATE SET
                input_type = EXCLUDED.input_type, output_type = EXCLUDED.output_type,
                max_worker_losses = EXCLUDED.max_worker_losses, last_seen_at = now()
            """;

        GetDefinitions = $"""
            SELECT name, version, input_type, output_type, max_worker_losses FROM {s}.workflow_definitions
            WHERE name = $1 ORDER BY version DESC
            """;

        Health = $"SELECT max(version) FROM {s}.schema_migrations";
    }

    public string CreateRuns { get; }
    public string CreateRunBatch { get; }
    public string GetRun { get; }
    public string GetFinishedRuns { get; }
    public string RequestCancel { get; }
    public string CancelChildren { get; }
    public string GetSteps { get; }
    public string GetPlainSteps { get; }
    public string GetPerItemPositions { get; }
    public string GetStepItems { get; }
    public string GetPerItemSummaries { get; }
    public string RegisterDefinitions { get; }
    public string GetDefinitions { get; }
    public string Health { get; }
}
