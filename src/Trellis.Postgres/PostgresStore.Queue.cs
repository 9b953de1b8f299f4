using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<IReadOnlyList<ClaimedRun>> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Lost claim windows first, in the same transaction: their runs are charged before anyone takes them again.
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(RecoverLostWindowsCommand(request.Limit));
        var command = new NpgsqlBatchCommand(request.Queues.Count == 1 ? _sql.Queue.ClaimOneQueue : _sql.Queue.ClaimManyQueues);
        command.Parameters.Add(QueuesParameter(request));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = request.Limit });
        command.Parameters.Add(Text(request.WorkerId));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = request.LeaseDuration });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. request.Workflows.Select(w => w.Name)] });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. request.Workflows.Select(w => w.Version)] });
        batch.BatchCommands.Add(command);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await ReadLostWindowsChargedAsync(reader, cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var claimed = new List<ClaimedRun>(request.Limit);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            claimed.Add(PostgresReaders.ReadClaim(reader));
        }

        return claimed;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyDictionary<string, bool>> RenewLeasesAsync(
        string workerId, IReadOnlyCollection<RunLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leases);
        var held = new Dictionary<string, bool>(leases.Count, StringComparer.Ordinal);
        if (leases.Count == 0)
        {
            return held;
        }

        await using var command = _dataSource.CreateCommand(_sql.Queue.RenewLeases);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. leases.Select(l => l.RunId)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. leases.Select(l => l.Epoch)] });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            held[reader.GetString(0)] = reader.GetBoolean(1);
        }

        return held;
    }

    /// <inheritdoc/>
    public async Task<int> RecoverExpiredLeasesAsync(int limit, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        var expired = new NpgsqlBatchCommand(_sql.Queue.RecoverExpiredLeases);
        expired.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        expired.Parameters.Add(Text(_sql.Channel));
        batch.BatchCommands.Add(expired);
        batch.BatchCommands.Add(RecoverLostWindowsCommand(limit));

        var recovered = 0;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        do
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                recovered += (int)reader.GetInt64(0);
            }
        }
        while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));

        return recovered;
    }

    /// <inheritdoc/>
    public async Task<WorkerStartRecovery> RecoverWorkerRunsAsync(string workerId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        const int Batch = 1000;
        var recovered = 0;
        while (true)
        {
            await using var batch = _dataSource.CreateBatch();
            var own = new NpgsqlBatchCommand(_sql.Queue.RecoverWorkerRuns);
            own.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Batch });
            own.Parameters.Add(Text(_sql.Channel));
            own.Parameters.Add(Text(workerId));
            batch.BatchCommands.Add(own);
            var backlog = new NpgsqlBatchCommand(_sql.Queue.LeaseBacklog);
            backlog.Parameters.Add(Text(workerId));
            batch.BatchCommands.Add(backlog);

            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var now = (int)reader.GetInt64(0);
            recovered += now;
            if (now == Batch)
            {
                continue;
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return new WorkerStartRecovery(
                recovered, (int)reader.GetInt64(0), (int)reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2));
        }
    }

    /// <summary>Counts a worker loss for the pending runs of claim windows that never committed (see migration 004).</summary>
    private NpgsqlBatchCommand RecoverLostWindowsCommand(int limit)
    {
        var command = new NpgsqlBatchCommand(_sql.Queue.RecoverLostWindows);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(Text(_sql.Channel));
        return command;
    }

    /// <summary>
    /// Reads the lost-window charge a claim made first, and logs it: the periodic lease recovery reports its own
    /// count, but a claim is what usually finds a lost window first.
    /// </summary>
    private async Task ReadLostWindowsChargedAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && reader.GetInt64(0) is var charged and > 0)
        {
            _logger.LostWindowsCharged(charged);
        }
    }

    private static NpgsqlParameter QueuesParameter(ClaimRequest request) =>
        request.Queues.Count == 1 ? Text(request.Queues[0]) : new NpgsqlParameter<string[]> { TypedValue = [.. request.Queues] };
}

/// <summary>The statements of <c>PostgresStore.Queue.cs</c>: claims, leases, and the recovery of lost workers' runs.</summary>
internal sealed class QueueSql
{
    private static readonly RunTransition Lost = RunTransitions.Of(RunTransitionKind.WorkerLost);

    public QueueSql(string s)
    {
        ClaimOneQueue = Claim(s, "r.queue = $1");
        ClaimManyQueues = Claim(s, "r.queue = ANY($1)");

        RenewLeases = $"""
            UPDATE {s}.runs r SET lease_expires_at = now() + $3
            FROM unnest($1::text[], $2::bigint[]) AS held(id, epoch)
            WHERE r.id = held.id AND r.epoch = held.epoch AND r.status = {Sql.Running}
            RETURNING r.id, r.cancel_requested
            """;

        RecoverExpiredLeases = RecoverLeases(
            s, $"status = {Sql.Running} AND lease_expires_at < now()", reason: "lease_expired", what: "stopped renewing its lease");

        // An earlier process that used this worker id is gone (its successor is starting): its runs need not wait out
        // their leases. Worker ids must be unique among live workers for this to be safe (a pod name is).
        RecoverWorkerRuns = RecoverLeases(
            s, $"status = {Sql.Running} AND locked_by = $3", reason: "worker_restarted", what: "was restarted (a new process took its worker id)");

        LeaseBacklog = $"""
            SELECT count(*) FILTER (WHERE lease_expires_at < now()), count(*), max(lease_expires_at)
            FROM {s}.runs WHERE status = {Sql.Running} AND locked_by <> $1
            """;

        RecoverLostWindows = $"""
            WITH lost AS (
                DELETE FROM {s}.claim_windows w
                -- Windows whose transaction ended without committing (a committed one deleted its row), or is
                -- too old for the server to say. The table holds only the windows open now and those lost.
                WHERE w.id = ANY (ARRAY(
                    SELECT id FROM {s}.claim_windows
                    WHERE coalesce(pg_xact_status(xact) <> 'in progress', true)
                    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED))
                RETURNING w.xact, w.worker_id, w.run_ids
            ), charged AS (
                -- Every claim runs this first, in its own transaction, so a lost window's runs are counted before
                -- anyone runs them again. Not SKIP LOCKED: in a race with another recovery, a run some window took
                -- meanwhile is waited for, and counted only if that window left it pending too.
                -- Found by primary key alone: joined to the lost runs, or with the status among the conditions (it
                -- matches the ready index's), the plan walked every pending run. The status is read once locked.
                SELECT r.id, r.status FROM {s}.runs r
                WHERE r.id = ANY (ARRAY(SELECT unnest(run_ids) FROM lost))
                FOR UPDATE
            ), counted AS (
                -- A worker loss. The window never charged its attempt: the loss's change applies to the one it would have.
                UPDATE {s}.runs r SET
                    worker_losses = r.worker_losses + 1,
                    status = CASE WHEN {Sql.LossLimitReached("r")} THEN {Sql.Failed} ELSE '{Lost.Status.ToText()}' END,
                    attempt = r.attempt + 1 + ({Lost.AttemptChange}),
                    error = CASE WHEN {Sql.LossLimitReached("r")}
                                 THEN {Sql.LossLimitError("r", "r.attempt + 1", "(SELECT l.worker_id FROM lost l WHERE r.id = ANY (l.run_ids) LIMIT 1)", "lost its claim window")}
                                 ELSE r.error END,
                    completed_at = CASE WHEN {Sql.LossLimitReached("r")} THEN now() END,
                    updated_at = now()
                WHERE r.id = ANY (ARRAY(SELECT id FROM charged WHERE status = {Sql.Pending}))
                RETURNING r.id, r.status, r.queue, r.attempt, r.worker_losses, r.max_worker_losses
            ), recorded AS (
                INSERT INTO {s}.history (run_id, event, worker_id, epoch, attempt, detail)
                SELECT x.id, '{RunHistoryEvents.WorkerLost}', l.worker_id, l.xact::text::bigint, x.attempt + 1,
                       jsonb_build_object('reason', 'claim_window_lost', 'losses', x.worker_losses, 'max_losses', x.max_worker_losses)
                FROM counted x
                CROSS JOIN LATERAL (SELECT l.worker_id, l.xact FROM lost l WHERE x.id = ANY (l.run_ids) LIMIT 1) l
                RETURNING 1
            ){Sql.Notifications("counted", "$2")}
            SELECT count(*) FROM counted
            WHERE (SELECT count(*) FROM recorded) + (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
            """;
    }

    public string ClaimOneQueue { get; }
    public string ClaimManyQueues { get; }
    public string RenewLeases { get; }
    public string RecoverExpiredLeases { get; }
    public string RecoverWorkerRuns { get; }
    public string LeaseBacklog { get; }
    public string RecoverLostWindows { get; }

    /// <summary>
    /// The claim, in one statement: lock up to $2 ready runs (skipping rows other workers hold), then
    /// hand them to worker $3 with a lease of $4 from the database's clock and a new epoch.
    /// </summary>
    private static string Claim(string s, string queueFilter) => $"""
        WITH ready AS (
            SELECT r.id, r.started_at IS NOT NULL OR r.forked_from IS NOT NULL AS started
            {Sql.ReadyRuns(s, queueFilter, limit: "$2", names: "$5", versions: "$6")}
        ), claimed AS (
            UPDATE {s}.runs r SET
                status = {Sql.Running},
                epoch = {Sql.ClaimEpoch},
                attempt = r.attempt + 1,
                locked_by = $3,
                lease_expires_at = now() + $4,
                started_at = coalesce(r.started_at, now()),
                updated_at = now()
            -- The locked runs by primary key, whatever number the plan expects. The one plan Trellis keeps cannot see
            -- $2 and expects a tenth of the backlog; joined to that many rows, it read the whole primary key per claim.
            WHERE r.id = ANY (ARRAY(SELECT id FROM ready))
            RETURNING r.id, r.workflow_name, r.workflow_version, r.input, r.epoch, r.attempt, r.max_attempts,
                      r.cancel_requested, r.correlation_id, r.tags, r.deadline_at, r.trace_parent, r.trace_state
        ){Sql.History(s, "recorded", $"SELECT id, now(), '{RunHistoryEvents.Claimed}', $3, epoch, attempt, NULL::jsonb FROM claimed")}
        SELECT c.id, c.workflow_name, c.workflow_version, c.input, c.epoch, c.attempt, c.max_attempts,
               c.cancel_requested, c.correlation_id, c.tags, c.id = ANY (ARRAY(SELECT id FROM ready WHERE started)), now(),
               c.deadline_at - now(), c.trace_parent, c.trace_state
        FROM claimed c
        """;

    /// <summary>
    /// Puts back up to $1 running runs that match <paramref name="held"/> (a condition on the run row), counting a
    /// worker loss for each (<see cref="RunTransitionKind.WorkerLost"/>): the attempt their claim charged is given
    /// back, the loss is counted against the run's own limit and recorded in its history with <paramref name="reason"/>.
    /// $2 is the notification channel.
    /// </summary>
    private static string RecoverLeases(string s, string held, string reason, string what) => $"""
        WITH expired AS (
            SELECT id, locked_by FROM {s}.runs
            WHERE {held}
            ORDER BY lease_expires_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), recovered AS (
            UPDATE {s}.runs r SET
                status = CASE WHEN r.cancel_requested THEN {Sql.Cancelled}
                              WHEN {Sql.LossLimitReached("r")} THEN {Sql.Failed}
                              ELSE '{Lost.Status.ToText()}' END,
                worker_losses = r.worker_losses + 1,
                attempt = r.attempt + ({Lost.AttemptChange}),
                error = CASE WHEN NOT r.cancel_requested AND {Sql.LossLimitReached("r")}
                             THEN {Sql.LossLimitError("r", "r.attempt", "r.locked_by", what)}
                             ELSE r.error END,
                completed_at = CASE WHEN r.cancel_requested OR {Sql.LossLimitReached("r")} THEN now() END,
                locked_by = NULL,
                lease_expires_at = NULL,
                scheduled_at = now(),
                updated_at = now()
            WHERE r.id = ANY (ARRAY(SELECT id FROM expired)) -- by key, however many the plan expects (see Claim)
            RETURNING r.id, r.status, r.queue, r.epoch, r.attempt, r.worker_losses, r.max_worker_losses
        ), recorded AS (
            INSERT INTO {s}.history (run_id, event, worker_id, epoch, attempt, detail)
            SELECT x.id, '{RunHistoryEvents.WorkerLost}', e.locked_by, x.epoch, x.attempt + 1,
                   jsonb_build_object('reason', '{reason}', 'losses', x.worker_losses, 'max_losses', x.max_worker_losses)
            FROM recovered x JOIN expired e ON e.id = x.id
            RETURNING 1
        ){Sql.Notifications("recovered", "$2")}
        SELECT count(*) FROM recovered
        WHERE (SELECT count(*) FROM recorded) + (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
        """;
}
