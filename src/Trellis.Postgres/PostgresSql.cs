namespace Trellis.Postgres;

/// <summary>
/// Every statement the store runs, built once per schema. The schema (validated, quoted) is the only
/// text spliced in; every value is a positional parameter ($1, $2, …), which also lets Npgsql prepare
/// the statements. Notifications go to one channel per schema, with a one-letter kind prefix:
/// <c>w:queue</c> (work is ready), <c>c:run</c> (cancel requested), <c>d:run\nrun…</c> (these runs
/// finished) or <c>d</c> (many runs finished).
/// </summary>
internal sealed class PostgresSql
{
    /// <summary>
    /// Most finished-run ids named in one notification: 20 ids of at most 255 characters stay under
    /// PostgreSQL's 8,000-byte payload limit. More finished runs are announced without their ids.
    /// </summary>
    private const int IdsPerNotification = 20;

    public PostgresSql(SchemaName schema)
    {
        var s = schema.Quoted;
        Channel = $"{schema.Name}.events";
        Listen = $"LISTEN \"{Channel}\"";

        CreateRuns = $"""
            WITH wanted AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::jsonb[], $7::text[],
                                     $8::jsonb[], $9::int[], $10::timestamptz[], $11::interval[], $12::text[], $13::interval[],
                                     $15::int[])
                    AS w(id, workflow_name, workflow_version, queue, priority, input, correlation_id, tags,
                         max_attempts, scheduled_at, delay, claim_for, lease, max_worker_losses)
            ), busy AS MATERIALIZED (
                -- A new run goes straight to the starting process's worker only when nothing is waiting
                -- in its queue, so it never overtakes ready work. Looked up once per queue.
                SELECT q.queue FROM (SELECT DISTINCT queue FROM wanted WHERE claim_for IS NOT NULL) q
                WHERE EXISTS (SELECT 1 FROM {s}.runs r WHERE r.status = 'pending' AND r.queue = q.queue AND r.scheduled_at <= now())
            ), inserted AS (
                INSERT INTO {s}.runs (id, workflow_name, workflow_version, queue, priority, status, input, correlation_id,
                                      tags, max_attempts, max_worker_losses, scheduled_at, epoch, attempt, locked_by,
                                      lease_expires_at, started_at)
                SELECT w.id, w.workflow_name, w.workflow_version, w.queue, w.priority,
                       CASE WHEN c.claim THEN 'running' ELSE 'pending' END, w.input, w.correlation_id, w.tags,
                       w.max_attempts, w.max_worker_losses, coalesce(w.scheduled_at, now() + w.delay),
                       CASE WHEN c.claim THEN {ClaimEpoch} ELSE 0 END, CASE WHEN c.claim THEN 1 ELSE 0 END,
                       CASE WHEN c.claim THEN w.claim_for END, CASE WHEN c.claim THEN now() + w.lease END,
                       CASE WHEN c.claim THEN now() END
                FROM wanted w
                CROSS JOIN LATERAL (SELECT w.claim_for IS NOT NULL AND w.queue NOT IN (SELECT queue FROM busy)) AS c(claim)
                ON CONFLICT (id) DO NOTHING
                RETURNING id, status, queue, scheduled_at, epoch
            ), notified AS (
                SELECT pg_notify($14, 'w:' || queue)
                FROM (SELECT DISTINCT queue FROM inserted WHERE status = 'pending' AND scheduled_at <= now()) q
            )
            -- For a run that existed: its stored workflow (r sees the table as it was before this statement).
            SELECT w.id, i.id IS NOT NULL, coalesce(i.status = 'running', false),
                   CASE WHEN i.id IS NOT NULL THEN w.workflow_name ELSE r.workflow_name END, coalesce(i.epoch, 0),
                   i.id IS NOT NULL OR r.input IS NOT DISTINCT FROM w.input
            FROM wanted w
            LEFT JOIN inserted i ON i.id = w.id
            LEFT JOIN {s}.runs r ON i.id IS NULL AND r.id = w.id
            WHERE (SELECT count(*) FROM notified) >= 0
            """;

        // A plain insert: the ids are new by contract (NewRunBatch), and "ON CONFLICT DO NOTHING" would make
        // each row a speculative insertion (a check of the key first, a confirmation record after), which took
        // a fifth of the statement's time for 1,000 runs.
        CreateRunBatch = $"""
            WITH inserted AS (
                INSERT INTO {s}.runs (id, workflow_name, workflow_version, queue, priority, status, input,
                                      correlation_id, tags, max_attempts, max_worker_losses, scheduled_at)
                SELECT n.id, $3, $4, $5, $6, 'pending', n.input, $7, $8, $9, $13, coalesce($10, now() + $11)
                FROM unnest($1::text[], $2::jsonb[]) AS n(id, input)
                RETURNING scheduled_at
            ), notified AS (
                SELECT pg_notify($12, 'w:' || $5) WHERE EXISTS (SELECT 1 FROM inserted WHERE scheduled_at <= now())
            )
            SELECT (SELECT count(*) FROM inserted) + 0 * (SELECT count(*) FROM notified)
            """;

        GetRun = $"SELECT {RunColumns("r")} FROM {s}.runs r WHERE r.id = $1";

        GetFinishedRuns = $"""
            SELECT {RunColumns("r")} FROM {s}.runs r
            -- Finished, by status: no index that the lookup could use is keyed or conditioned on exactly these
            -- statuses, so its plan is the primary key alone. Stated as "completed_at IS NOT NULL" (equivalent), it
            -- matched the finished runs' listing indexes, and a plan kept from a young table read all of them.
            WHERE r.id = ANY($1) AND r.status IN ('completed', 'failed', 'cancelled')
            """;

        RequestCancel = $"""
            WITH cancelled AS (
                UPDATE {s}.runs r SET
                    status = CASE WHEN r.status = 'pending' THEN 'cancelled' ELSE r.status END,
                    completed_at = CASE WHEN r.status = 'pending' THEN now() ELSE r.completed_at END,
                    cancel_requested = true,
                    updated_at = now()
                WHERE r.id = $1 AND r.status IN ('pending', 'running')
                RETURNING r.id, r.status
            ), notified AS (
                SELECT pg_notify($2, CASE WHEN status = 'running' THEN 'c:' ELSE 'd:' END || id) FROM cancelled
            )
            SELECT count(*) FROM notified
            """;

        GetSteps = $"""
            SELECT {StepColumns} FROM {s}.steps
            WHERE run_id = $1
            ORDER BY seq, coalesce(item_index, -1)
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

        ClaimOneQueue = Claim(s, "r.queue = $1");
        ClaimManyQueues = Claim(s, "r.queue = ANY($1)");

        RenewLeases = $"""
            UPDATE {s}.runs r SET lease_expires_at = now() + $3
            FROM unnest($1::text[], $2::bigint[]) AS held(id, epoch)
            WHERE r.id = held.id AND r.epoch = held.epoch AND r.status = 'running'
            RETURNING r.id, r.cancel_requested
            """;

        RecoverExpiredLeases = RecoverLeases(
            s, "status = 'running' AND lease_expires_at < now()", reason: "lease_expired", what: "stopped renewing its lease");

        // An earlier process that used this worker id is gone (its successor is starting): its runs need not wait out
        // their leases. Worker ids must be unique among live workers for this to be safe (a pod name is).
        RecoverWorkerRuns = RecoverLeases(
            s, "status = 'running' AND locked_by = $3", reason: "worker_restarted", what: "was restarted (a new process took its worker id)");

        LeaseBacklog = $"""
            SELECT count(*) FILTER (WHERE lease_expires_at < now()), count(*), max(lease_expires_at)
            FROM {s}.runs WHERE status = 'running' AND locked_by <> $1
            """;

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
            FROM written w JOIN holder h ON h.id = w.run_id AND h.epoch = w.epoch AND h.status = 'running'
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
            WHERE s.status <> 'completed' OR (s.epoch = EXCLUDED.epoch AND EXCLUDED.status = 'completed')
            RETURNING s.run_id, s.seq, s.item_index
            """;

        WriteProgress = $"""
            UPDATE {s}.runs r SET progress_percent = p.percent, progress_message = p.message, updated_at = now()
            FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::text[]) AS p(id, epoch, percent, message)
            WHERE r.id = p.id AND r.epoch = p.epoch AND r.status = 'running'
            RETURNING r.id
            """;

        // The outcome as written: a run whose cancel was requested before its outcome commits ends cancelled, also
        // when it completed meanwhile (its steps' results stay stored), would be retried, or was released.
        const string Outcome = "(CASE WHEN r.cancel_requested AND f.kind IN ('completed', 'retry', 'release') THEN 'cancelled' ELSE f.kind END)";
        FinishRuns = $"""
            WITH finish AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[], $5::jsonb[], $6::interval[], $7::int[])
                    AS f(id, epoch, kind, output, error, delay, reset_seq)
            ), finished AS (
                UPDATE {s}.runs r SET
                    status = CASE {Outcome} WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'failed'
                                            WHEN 'cancelled' THEN 'cancelled' ELSE 'pending' END,
                    output = CASE WHEN {Outcome} = 'completed' THEN f.output ELSE r.output END,
                    error = CASE WHEN {Outcome} IN ('failed', 'retry') THEN f.error
                                 WHEN {Outcome} = 'completed' THEN NULL ELSE r.error END,
                    -- A run released at shutdown gets its attempt back: it did not fail.
                    attempt = CASE WHEN f.kind = 'release' THEN r.attempt - 1 ELSE r.attempt END,
                    -- A released run keeps its place in the queue (it was ready, and nothing went wrong).
                    scheduled_at = CASE WHEN {Outcome} = 'retry' THEN now() + f.delay ELSE r.scheduled_at END,
                    completed_at = CASE WHEN {Outcome} IN ('completed', 'failed', 'cancelled') THEN now() END,
                    locked_by = NULL,
                    lease_expires_at = NULL,
                    updated_at = now()
                FROM finish f
                WHERE r.id = f.id AND r.epoch = f.epoch
                  -- Running, or finished by this very outcome already (a batch written again after its commit was lost).
                  AND (r.status = 'running' OR ({Outcome} IN ('completed', 'failed', 'cancelled') AND r.status = {Outcome} AND r.locked_by IS NULL))
                RETURNING r.id, r.status, r.queue
            ), reset AS (
                UPDATE {s}.steps st SET status = 'running', completed_at = NULL
                FROM finished x JOIN finish f ON f.id = x.id
                WHERE f.kind = 'retry' AND x.status = 'pending' AND f.reset_seq IS NOT NULL
                  AND st.run_id = x.id AND st.seq = f.reset_seq AND st.status = 'failed'
            ){Notifications("finished", "$8")}
            SELECT id, status FROM finished WHERE (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
            """;

        Health = $"SELECT max(version) FROM {s}.schema_migrations";

        OpenWindowOneQueue = OpenWindow(s, "r.queue = $1");
        OpenWindowManyQueues = OpenWindow(s, "r.queue = ANY($1)");

        OpenWindowSetup = "SELECT set_config('idle_in_transaction_session_timeout', $1, true)";

        // The window's transaction id, which its record names and which is its runs' epoch: assigned by the claim's
        // first row lock, so a claim that found nothing stays a read-only transaction, whose commit costs no flush.
        WindowTransaction = "SELECT pg_current_xact_id_if_assigned()::text";

        RecordWindow = $"""
            INSERT INTO {s}.claim_windows (xact, worker_id, run_ids) VALUES ($1::xid8, $2, $3) RETURNING id
            """;

        CloseWindow = $"""
            WITH closing AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::interval[])
                    AS c(id, kind, output, error, delay)
            ), closed AS (
                -- The rows are locked by this transaction since the window opened, still pending as they were then.
                UPDATE {s}.runs r SET
                    status = CASE c.kind WHEN 'promote' THEN 'running' WHEN 'retry' THEN 'pending' ELSE c.kind END,
                    output = CASE WHEN c.kind = 'completed' THEN c.output ELSE r.output END,
                    error = CASE WHEN c.kind IN ('failed', 'retry') THEN c.error
                                 WHEN c.kind = 'completed' THEN NULL ELSE r.error END,
                    epoch = {ClaimEpoch}, -- the window's transaction: the epoch its runs were handed out with
                    attempt = r.attempt + 1,
                    locked_by = CASE WHEN c.kind = 'promote' THEN $6 END,
                    lease_expires_at = CASE WHEN c.kind = 'promote' THEN clock_timestamp() + $7 END,
                    scheduled_at = CASE WHEN c.kind = 'retry' THEN clock_timestamp() + c.delay ELSE r.scheduled_at END,
                    -- now() is when the window's transaction began: the time of the claim.
                    started_at = coalesce(r.started_at, now()),
                    completed_at = CASE WHEN c.kind IN ('completed', 'failed', 'cancelled') THEN clock_timestamp() END,
                    updated_at = clock_timestamp()
                FROM closing c
                -- By primary key. No status condition: 'pending' matches the ready index's, and the plan then walked
                -- every pending run to find these.
                WHERE r.id = ANY (ARRAY(SELECT id FROM closing)) AND r.id = c.id
                RETURNING r.id, r.status, r.queue
            ), forgotten AS (
                DELETE FROM {s}.claim_windows WHERE id = $8 RETURNING id
            ){Notifications("closed", "$9")}
            SELECT id FROM closed
            WHERE (SELECT count(*) FROM forgotten) + (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
            """;

        ForgetWindow = $"DELETE FROM {s}.claim_windows WHERE id = $1";

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
                -- A worker loss: the window never charged the attempt, so only the loss is counted.
                UPDATE {s}.runs r SET
                    worker_losses = r.worker_losses + 1,
                    status = CASE WHEN {LossLimitReached("r")} THEN 'failed' ELSE 'pending' END,
                    error = CASE WHEN {LossLimitReached("r")}
                                 THEN {LossLimitError("r", "r.attempt + 1", "(SELECT l.worker_id FROM lost l WHERE r.id = ANY (l.run_ids) LIMIT 1)", "lost its claim window")}
                                 ELSE r.error END,
                    completed_at = CASE WHEN {LossLimitReached("r")} THEN now() END,
                    updated_at = now()
                WHERE r.id = ANY (ARRAY(SELECT id FROM charged WHERE status = 'pending'))
                RETURNING r.id, r.status, r.queue, r.attempt, r.worker_losses, r.max_worker_losses
            ), recorded AS (
                INSERT INTO {s}.history (run_id, event, worker_id, epoch, attempt, detail)
                SELECT x.id, 'worker_lost', l.worker_id, l.xact::text::bigint, x.attempt + 1,
                       jsonb_build_object('reason', 'claim_window_lost', 'losses', x.worker_losses, 'max_losses', x.max_worker_losses)
                FROM counted x
                CROSS JOIN LATERAL (SELECT l.worker_id, l.xact FROM lost l WHERE x.id = ANY (l.run_ids) LIMIT 1) l
                RETURNING 1
            ){Notifications("counted", "$2")}
            SELECT count(*) FROM counted
            WHERE (SELECT count(*) FROM recorded) + (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
            """;

        ResumeRun = $"""
            WITH resumed AS (
                -- Only a run stopped by worker losses; its checkpoints stay, and its loss budget starts again.
                UPDATE {s}.runs r SET
                    status = 'pending', worker_losses = 0, error = NULL, completed_at = NULL,
                    scheduled_at = now(), updated_at = now()
                WHERE r.id = $1 AND r.status = 'failed' AND r.error ->> 'type' = '{WorkerLossLimitErrorType}'
                RETURNING r.id, r.queue, r.attempt
            ), recorded AS (
                INSERT INTO {s}.history (run_id, event, attempt) SELECT id, 'resumed', attempt FROM resumed RETURNING 1
            ), notified AS (
                SELECT pg_notify($2, 'w:' || queue) FROM resumed
            )
            SELECT count(*) FROM resumed WHERE (SELECT count(*) FROM recorded) + (SELECT count(*) FROM notified) >= 0
            """;

        GetHistory = $"""
            SELECT id, run_id, at, event, worker_id, epoch, attempt, detail FROM {s}.history
            WHERE run_id = $1
            ORDER BY id
            """;
    }

    public string Channel { get; }
    public string Listen { get; }
    public string CreateRuns { get; }
    public string CreateRunBatch { get; }
    public string GetRun { get; }
    public string GetFinishedRuns { get; }
    public string RequestCancel { get; }
    public string GetSteps { get; }
    public string RegisterDefinitions { get; }
    public string GetDefinitions { get; }
    public string ClaimOneQueue { get; }
    public string ClaimManyQueues { get; }
    public string RenewLeases { get; }
    public string RecoverExpiredLeases { get; }
    public string RecoverWorkerRuns { get; }
    public string LeaseBacklog { get; }
    public string WriteSteps { get; }
    public string WriteProgress { get; }
    public string FinishRuns { get; }
    public string Health { get; }
    public string OpenWindowOneQueue { get; }
    public string OpenWindowManyQueues { get; }
    public string OpenWindowSetup { get; }
    public string WindowTransaction { get; }
    public string RecordWindow { get; }
    public string CloseWindow { get; }
    public string ForgetWindow { get; }
    public string RecoverLostWindows { get; }
    public string ResumeRun { get; }
    public string GetHistory { get; }

    /// <summary>The columns read into <see cref="RunInfo"/>, in the order <see cref="PostgresStore"/> reads them.</summary>
    public static string RunColumns(string alias) => string.Join(", ", RunColumnNames.Select(c => $"{alias}.{c}"));

    private static readonly string[] RunColumnNames =
    [
        "id", "workflow_name", "workflow_version", "status", "queue", "priority", "input", "output", "error",
        "correlation_id", "tags", "progress_percent", "progress_message", "attempt", "max_attempts", "epoch",
        "locked_by", "lease_expires_at", "cancel_requested", "created_at", "scheduled_at", "started_at",
        "updated_at", "completed_at", "worker_losses", "max_worker_losses",
    ];

    public const string StepColumns =
        "run_id, seq, item_index, name, status, result, error, attempt_errors, attempts, epoch, started_at, completed_at";

    /// <summary>
    /// A claim's epoch: the id of the claiming transaction, which no other transaction ever has. A claim window's
    /// runs get theirs without anything being written, so a window that dies leaves no trace of its epoch in the
    /// rows; counted up from the row (epoch + 1), the next claim would hand out the same epoch again, and a resumed
    /// holder of the dead window could not be told from the new owner. Evaluated only for rows being written,
    /// where the transaction has its id anyway.
    /// </summary>
    private const string ClaimEpoch = "pg_current_xact_id()::text::bigint";

    /// <summary>The error type of a run stopped because its worker losses exceeded its limit.</summary>
    public const string WorkerLossLimitErrorType = "Trellis.WorkerLossLimitExceeded";

    /// <summary>True when the worker loss being counted is one more than the run allows (old values of the row).</summary>
    private static string LossLimitReached(string alias) => $"{alias}.worker_losses >= {alias}.max_worker_losses";

    /// <summary>The error (as <see cref="ErrorInfo"/> JSON) of a run stopped by the worker loss being counted.</summary>
    private static string LossLimitError(string alias, string attempt, string worker, string what) => $"""
        jsonb_build_object(
            'type', '{WorkerLossLimitErrorType}',
            'message', format('Worker %s {what}; that was worker loss %s of this run, over its limit of %s (MaxWorkerLosses). '
                              'Its checkpoints are kept: ResumeAsync resumes it.',
                              {worker}, {alias}.worker_losses + 1, {alias}.max_worker_losses),
            'stack', NULL, 'attempt', {attempt}, 'permanent', true)
        """;

    /// <summary>
    /// Puts back up to $1 running runs that match <paramref name="held"/> (a condition on the run row), counting a
    /// worker loss for each: the attempt their claim charged is given back, the loss is counted against the run's own
    /// limit and recorded in its history with <paramref name="reason"/>. $2 is the notification channel.
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
                status = CASE WHEN r.cancel_requested THEN 'cancelled'
                              WHEN {LossLimitReached("r")} THEN 'failed'
                              ELSE 'pending' END,
                worker_losses = r.worker_losses + 1,
                attempt = r.attempt - 1,
                error = CASE WHEN NOT r.cancel_requested AND {LossLimitReached("r")}
                             THEN {LossLimitError("r", "r.attempt", "r.locked_by", what)}
                             ELSE r.error END,
                completed_at = CASE WHEN r.cancel_requested OR {LossLimitReached("r")} THEN now() END,
                locked_by = NULL,
                lease_expires_at = NULL,
                scheduled_at = now(),
                updated_at = now()
            WHERE r.id = ANY (ARRAY(SELECT id FROM expired)) -- by key, however many the plan expects (see Claim)
            RETURNING r.id, r.status, r.queue, r.epoch, r.attempt, r.worker_losses, r.max_worker_losses
        ), recorded AS (
            INSERT INTO {s}.history (run_id, event, worker_id, epoch, attempt, detail)
            SELECT x.id, 'worker_lost', e.locked_by, x.epoch, x.attempt + 1,
                   jsonb_build_object('reason', '{reason}', 'losses', x.worker_losses, 'max_losses', x.max_worker_losses)
            FROM recovered x JOIN expired e ON e.id = x.id
            RETURNING 1
        ){Notifications("recovered", "$2")}
        SELECT count(*) FROM recovered
        WHERE (SELECT count(*) FROM recorded) + (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
        """;

    /// <summary>
    /// The claim, in one statement: lock up to $2 ready runs (skipping rows other workers hold), then
    /// hand them to worker $3 with a lease of $4 from the database's clock and a new epoch.
    /// </summary>
    private static string Claim(string s, string queueFilter) => $"""
        WITH ready AS (
            SELECT r.id, r.started_at IS NOT NULL AS started FROM {s}.runs r
            WHERE r.status = 'pending' AND {queueFilter} AND r.scheduled_at <= now()
              AND (r.workflow_name, r.workflow_version) IN (SELECT * FROM unnest($5::text[], $6::int[]))
            ORDER BY r.priority DESC, r.scheduled_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {s}.runs r SET
            status = 'running',
            epoch = {ClaimEpoch},
            attempt = r.attempt + 1,
            locked_by = $3,
            lease_expires_at = now() + $4,
            started_at = coalesce(r.started_at, now()),
            updated_at = now()
        -- The locked runs by primary key, whatever number the plan expects. The one plan Trellis keeps cannot see
        -- $2 and expects a tenth of the backlog; joined to that many rows, it read the whole primary key per claim.
        WHERE r.id = ANY (ARRAY(SELECT id FROM ready))
        RETURNING r.id, r.workflow_name, r.workflow_version, r.input, r.epoch, r.attempt, r.max_attempts,
                  r.cancel_requested, r.correlation_id, r.tags, r.id = ANY (ARRAY(SELECT id FROM ready WHERE started))
        """;

    /// <summary>
    /// A claim window's claim: up to $2 ready runs locked by this transaction (skipping rows others hold), and
    /// nothing written. Each comes with the attempt it will have when the window closes; its epoch is the window
    /// transaction's id, read once the rows are locked (<see cref="WindowTransaction"/>), so the column is a placeholder.
    /// </summary>
    private static string OpenWindow(string s, string queueFilter) => $"""
        SELECT r.id, r.workflow_name, r.workflow_version, r.input, 0::bigint, r.attempt + 1, r.max_attempts,
               r.cancel_requested, r.correlation_id, r.tags, r.started_at IS NOT NULL
        FROM {s}.runs r
        WHERE r.status = 'pending' AND {queueFilter} AND r.scheduled_at <= now()
          AND (r.workflow_name, r.workflow_version) IN (SELECT * FROM unnest($3::text[], $4::int[]))
        ORDER BY r.priority DESC, r.scheduled_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """;

    /// <summary>
    /// Notifications for runs that changed state, as CTEs: one wake-up per queue that got pending runs, and
    /// one for the finished runs: with their ids when there are a few, as a bare "d" (re-check what you
    /// await) when there are many. Never one notification per row.
    /// </summary>
    private static string Notifications(string changed, string channelParameter) => $"""
        , work_notified AS (
            SELECT pg_notify({channelParameter}, 'w:' || queue) FROM (SELECT DISTINCT queue FROM {changed} WHERE status = 'pending') q
        ), done_notified AS (
            SELECT pg_notify({channelParameter}, CASE WHEN count(*) <= {IdsPerNotification} THEN 'd:' || string_agg(id, E'\n') ELSE 'd' END)
            FROM {changed} WHERE status IN ('completed', 'failed', 'cancelled')
            HAVING count(*) > 0
        )
        """;
}
