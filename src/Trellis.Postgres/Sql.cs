using Trellis.Storage;

namespace Trellis.Postgres;

/// <summary>
/// What the store's statements share: status literals, the run transitions (<see cref="RunTransitions"/>) as SQL
/// expressions, the ready-runs query, the notifications, the columns read. The schema (validated, quoted) is the only
/// text spliced into a statement besides these constants; every value is a positional parameter ($1, $2, …).
/// </summary>
internal static class Sql
{
    /// <summary>SQL literals of the run statuses (<see cref="StatusText"/>).</summary>
    public const string Pending = "'" + StatusText.Pending + "'";

    /// <inheritdoc cref="Pending"/>
    public const string Running = "'" + StatusText.Running + "'";

    /// <inheritdoc cref="Pending"/>
    public const string Waiting = "'" + StatusText.Waiting + "'";

    /// <inheritdoc cref="Pending"/>
    public const string Completed = "'" + StatusText.Completed + "'";

    /// <inheritdoc cref="Pending"/>
    public const string Failed = "'" + StatusText.Failed + "'";

    /// <inheritdoc cref="Pending"/>
    public const string Cancelled = "'" + StatusText.Cancelled + "'";

    /// <summary>The statuses of finished runs, as an SQL list: <c>('completed', 'failed', 'cancelled')</c>.</summary>
    public static readonly string FinishedStatuses = List(RunTransitions.All.Where(t => t.Finishes).Select(t => t.Status.ToText()).Distinct());

    /// <summary>
    /// A claim's epoch: the id of the claiming transaction, which no other transaction ever has. A claim window's
    /// runs get theirs without anything being written, so a window that dies leaves no trace of its epoch in the
    /// rows; counted up from the row (epoch + 1), the next claim would hand out the same epoch again, and a resumed
    /// holder of the dead window could not be told from the new owner. Evaluated only for rows being written,
    /// where the transaction has its id anyway.
    /// </summary>
    public const string ClaimEpoch = "pg_current_xact_id()::text::bigint";

    /// <summary>The error type of a run stopped because its worker losses exceeded its limit.</summary>
    public const string WorkerLossLimitErrorType = "Trellis.WorkerLossLimitExceeded";

    /// <summary>
    /// Most finished-run ids named in one notification: 20 ids of at most 255 characters stay under
    /// PostgreSQL's 8,000-byte payload limit. More finished runs are announced without their ids.
    /// </summary>
    private const int IdsPerNotification = 20;

    private static readonly string[] RunColumnNames =
    [
        "id", "workflow_name", "workflow_version", "status", "queue", "priority", "input", "output", "error",
        "correlation_id", "tags", "progress_percent", "progress_message", "attempt", "max_attempts", "epoch",
        "locked_by", "lease_expires_at", "cancel_requested", "created_at", "scheduled_at", "started_at",
        "updated_at", "completed_at", "worker_losses", "max_worker_losses", "wait_reason", "parent_id", "forked_from",
        "forked_at_step",
    ];

    /// <summary>The columns read into <see cref="StepInfo"/>, in the order <see cref="PostgresReaders.ReadStep"/> reads them.</summary>
    public const string StepColumns =
        "run_id, seq, item_index, name, status, result, error, attempt_errors, attempts, epoch, started_at, completed_at";

    /// <summary>The columns read into <see cref="RunInfo"/>, in the order <see cref="PostgresReaders.ReadRun"/> reads them.</summary>
    public static string RunColumns(string alias) => string.Join(", ", RunColumnNames.Select(c => $"{alias}.{c}"));

    /// <summary>The text a transition's kind is passed and compared as.</summary>
    public static string KindText(RunTransitionKind kind) => kind switch
    {
        RunTransitionKind.Completed => "completed",
        RunTransitionKind.Failed => "failed",
        RunTransitionKind.Cancelled => "cancelled",
        RunTransitionKind.Retry => "retry",
        RunTransitionKind.Release => "release",
        RunTransitionKind.Suspend => "suspend",
        RunTransitionKind.WorkerLost => "worker_lost",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>The text a worker's outcome is passed as.</summary>
    public static string KindText(RunFinishKind kind) => KindText(RunTransitions.Of(kind).Kind);

    /// <summary>
    /// The transition a run makes when <paramref name="kind"/> is written: a cancel requested before it commits turns
    /// the kinds it wins over into a cancellation (a step that completed meanwhile keeps its stored result).
    /// </summary>
    public static string Outcome(string kind, string cancelRequested) =>
        $"(CASE WHEN {cancelRequested} AND {kind} IN {List(RunTransitions.All.Where(t => t.CancelWins).Select(t => KindText(t.Kind)))} "
        + $"THEN '{KindText(RunTransitionKind.Cancelled)}' ELSE {kind} END)";

    /// <summary>The status a transition leaves the run in.</summary>
    public static string StatusAfter(string kind) =>
        $"CASE {kind}{string.Concat(RunTransitions.All.Select(t => $" WHEN '{KindText(t.Kind)}' THEN '{t.Status.ToText()}'"))} END";

    /// <summary>What a transition adds to the attempts charged (a claim charges one; a transition that is not the workflow's failure gives it back).</summary>
    public static string AttemptChange(string kind) =>
        $"CASE {kind}{string.Concat(RunTransitions.All.Where(t => t.AttemptChange != 0).Select(t => $" WHEN '{KindText(t.Kind)}' THEN {t.AttemptChange}"))} ELSE 0 END";

    /// <summary>When the run may be claimed again after a transition; <paramref name="keep"/> for kinds outside the table.</summary>
    public static string ScheduledAfter(string kind, string keep, string afterDelay, string now, string wakeTime) =>
        $"CASE {kind}{string.Concat(RunTransitions.All.Where(t => t.Schedule != TransitionSchedule.Keep).Select(t => $" WHEN '{KindText(t.Kind)}' THEN {t.Schedule switch
        {
            TransitionSchedule.AfterDelay => afterDelay,
            TransitionSchedule.Now => now,
            _ => wakeTime,
        }}"))} ELSE {keep} END";

    /// <summary>
    /// In the detail of an outcome in the history, the time of a claim that has no row of its own (a run that finished
    /// inside its claim window): the history's reader shows it as the claim.
    /// </summary>
    public const string ClaimedAtKey = "claimed_at";

    /// <summary>What a run's history records for a transition (<see cref="RunTransition.HistoryEvent"/>).</summary>
    public static string HistoryEventOf(string kind) =>
        $"CASE {kind}{string.Concat(RunTransitions.All.Select(t => $" WHEN '{KindText(t.Kind)}' THEN '{t.HistoryEvent}'"))} END";

    /// <summary>
    /// A CTE that appends to the runs' history one row per row of <paramref name="select"/>, which gives, in order: the run
    /// id, the time, the event, the worker id, the epoch, the attempt and the detail (JSONB). A data-modifying CTE runs
    /// whether or not the statement reads it, in the statement's own transaction: no round trip of its own.
    /// </summary>
    public static string History(string schema, string name, string select) => $"""
        , {name} AS (
            INSERT INTO {schema}.history (run_id, at, event, worker_id, epoch, attempt, detail)
            {select}
        )
        """;

    /// <summary>True for the transitions that finish a run.</summary>
    public static string Finishes(string kind) => $"{kind} IN {List(RunTransitions.All.Where(t => t.Finishes).Select(t => KindText(t.Kind)))}";

    /// <summary>
    /// Ready runs of the queues <paramref name="queueFilter"/> selects, of the workflow versions in
    /// <paramref name="names"/> and <paramref name="versions"/>, highest priority first, then oldest, at most
    /// <paramref name="limit"/>, locked for this transaction (skipping rows others hold): the FROM clause onwards of a claim.
    /// </summary>
    public static string ReadyRuns(string schema, string queueFilter, string limit, string names, string versions) => $"""
        FROM {schema}.runs r
        WHERE r.status = {Pending} AND {queueFilter} AND r.scheduled_at <= now()
          AND (r.workflow_name, r.workflow_version) IN (SELECT * FROM unnest({names}::text[], {versions}::int[]))
        ORDER BY r.priority DESC, r.scheduled_at
        LIMIT {limit}
        FOR UPDATE SKIP LOCKED
        """;

    /// <summary>True when the worker loss being counted is one more than the run allows (old values of the row).</summary>
    public static string LossLimitReached(string alias) => $"{alias}.worker_losses >= {alias}.max_worker_losses";

    /// <summary>The error (as <see cref="ErrorInfo"/> JSON) of a run stopped by the worker loss being counted.</summary>
    public static string LossLimitError(string alias, string attempt, string worker, string what) => $"""
        jsonb_build_object(
            'type', '{WorkerLossLimitErrorType}',
            'message', format('Worker %s {what}; that was worker loss %s of this run, over its limit of %s (MaxWorkerLosses). '
                              'Its checkpoints are kept: ResumeAsync resumes it.',
                              {worker}, {alias}.worker_losses + 1, {alias}.max_worker_losses),
            'stack', NULL, 'attempt', {attempt}, 'permanent', true)
        """;

    /// <summary>
    /// Notifications for runs that changed state, as CTEs: one wake-up per queue that got pending runs, and
    /// one for the finished runs: with their ids when there are a few, as a bare "d" (re-check what you
    /// await) when there are many. Never one notification per row.
    /// </summary>
    public static string Notifications(string changed, string channelParameter) => $"""
        , work_notified AS (
            SELECT pg_notify({channelParameter}, 'w:' || queue) FROM (SELECT DISTINCT queue FROM {changed} WHERE status = {Pending}) q
        ), done_notified AS (
            SELECT pg_notify({channelParameter}, CASE WHEN count(*) <= {IdsPerNotification} THEN 'd:' || string_agg(id, E'\n') ELSE 'd' END)
            FROM {changed} WHERE status IN {FinishedStatuses}
            HAVING count(*) > 0
        )
        """;

    private static string List(IEnumerable<string> values) => "(" + string.Join(", ", values.Select(v => $"'{v}'")) + ")";
}
