using System.Globalization;
using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<IClaimWindow?> OpenClaimWindowAsync(ClaimRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (transactionId, runs) = await LockReadyRunsAsync(connection, request, cancellationToken).ConfigureAwait(false);
            if (runs.Count == 0)
            {
                // Committed, not rolled back: the lost windows charged on the way stay charged.
                await using var commit = new NpgsqlCommand("COMMIT", connection);
                await commit.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
                return null;
            }

            // Committed apart, before any run starts: if this process dies inside the window, its transaction rolls
            // back, and this row (naming a transaction that never committed) is what gets the attempts charged.
            await using var record = _dataSource.CreateCommand(_sql.ClaimWindows.Record);
            record.Parameters.Add(Text(transactionId ?? throw new InvalidOperationException("A claim that locked runs has no transaction id.")));
            record.Parameters.Add(Text(request.WorkerId));
            record.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runs.Select(r => r.Id)] });
            // Not cancelled midway: a record committed unbeknown to us would charge attempts of runs that never started.
            var windowId = (long)(await record.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false))!;
            return new PostgresClaimWindow(this, connection, windowId, request.WorkerId, runs);
        }
        catch
        {
            await RollbackAsync(connection).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<(string? TransactionId, List<ClaimedRun> Runs)> LockReadyRunsAsync(
        NpgsqlConnection connection, ClaimRequest request, CancellationToken cancellationToken)
    {
        // The transaction is begun, committed and rolled back by statements of its own (not NpgsqlTransaction),
        // so that the commit can travel in one batch with the window's last statement.
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));

        // A window whose process stops answering (hung, or cut off) must not hold its runs' locks for good: the
        // server ends a transaction left idle for a lease, as long as another worker would wait for a lease.
        var setup = new NpgsqlBatchCommand(_sql.ClaimWindows.Setup);
        // The setting is an int of milliseconds: a lease longer than about 24 days is capped there.
        setup.Parameters.Add(Text(((long)Math.Min(request.LeaseDuration.TotalMilliseconds, int.MaxValue)).ToString(CultureInfo.InvariantCulture)));
        batch.BatchCommands.Add(setup);
        batch.BatchCommands.Add(RecoverLostWindowsCommand(request.Limit));

        var claim = new NpgsqlBatchCommand(request.Queues.Count == 1 ? _sql.ClaimWindows.OpenOneQueue : _sql.ClaimWindows.OpenManyQueues);
        claim.Parameters.Add(QueuesParameter(request));
        claim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = request.Limit });
        claim.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. request.Workflows.Select(w => w.Name)] });
        claim.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. request.Workflows.Select(w => w.Version)] });
        batch.BatchCommands.Add(claim);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.ClaimWindows.Transaction));

        // BEGIN has no result; the reader starts at the setup's.
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await ReadLostWindowsChargedAsync(reader, cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var runs = new List<ClaimedRun>(request.Limit);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            runs.Add(PostgresReaders.ReadClaim(reader));
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var transactionId = reader.IsDBNull(0) ? null : reader.GetString(0);
        if (transactionId is not null)
        {
            // The window's runs are handed out under its transaction's id, as its close will write it.
            var epoch = long.Parse(transactionId, CultureInfo.InvariantCulture);
            for (var i = 0; i < runs.Count; i++)
            {
                runs[i] = runs[i] with { Epoch = epoch };
            }
        }

        return (transactionId, runs);
    }

    /// <summary>Ends the window's transaction, if the connection still can; a broken connection took it with it.</summary>
    private static async Task RollbackAsync(NpgsqlConnection connection)
    {
        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
        {
            // The server rolls back the transaction of a connection that is gone.
        }
    }

    /// <summary>One open claim window: its connection, its transaction, and its record in <c>claim_windows</c>.</summary>
    private sealed class PostgresClaimWindow(
        PostgresStore store,
        NpgsqlConnection connection,
        long windowId,
        string workerId,
        IReadOnlyList<ClaimedRun> runs) : IClaimWindow
    {
        private int _ended;

        public IReadOnlyList<ClaimedRun> Runs => runs;

        public async Task CloseAsync(
            IReadOnlyList<RunFinish> finishes, IReadOnlyCollection<string> promoted, TimeSpan leaseDuration, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(finishes);
            ArgumentNullException.ThrowIfNull(promoted);
            if (finishes.Any(f => f.Kind == RunFinishKind.Release || f.ResetStepSequence is not null))
            {
                throw new ArgumentException("A claim window writes outcomes only; a released run is left out, and a retry that resets a step needs a lease.", nameof(finishes));
            }

            if (Interlocked.Exchange(ref _ended, 1) != 0)
            {
                throw new InvalidOperationException("The claim window has already been closed or disposed.");
            }

            var count = finishes.Count + promoted.Count;
            var ids = new string[count];
            var kinds = new string[count];
            var outputs = new string?[count];
            var errors = new string?[count];
            var delays = new TimeSpan[count];
            var wakeAt = new DateTimeOffset?[count];
            var wakeAfter = new TimeSpan?[count];
            var waitReasons = new string?[count];
            var i = 0;
            foreach (var finish in finishes)
            {
                ids[i] = finish.RunId;
                kinds[i] = Sql.KindText(finish.Kind);
                outputs[i] = finish.OutputJson;
                errors[i] = finish.ErrorJson;
                delays[i] = finish.RetryDelay;
                wakeAt[i] = finish.WakeAt?.ToUniversalTime();
                wakeAfter[i] = finish.WakeAfter;
                waitReasons[i] = finish.WaitReason;
                i++;
            }

            foreach (var id in promoted)
            {
                ids[i] = id;
                kinds[i] = ClaimWindowSql.Promote;
                i++;
            }

            try
            {
                await using var batch = new NpgsqlBatch(connection);
                var close = new NpgsqlBatchCommand(store._sql.ClaimWindows.Close);
                var p = close.Parameters;
                p.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
                p.Add(new NpgsqlParameter<string[]> { TypedValue = kinds });
                p.Add(JsonbArray(outputs));
                p.Add(JsonbArray(errors));
                p.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = delays });
                p.Add(Text(workerId));
                p.Add(new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });
                p.Add(new NpgsqlParameter<long> { TypedValue = windowId });
                p.Add(Text(store._sql.Channel));
                p.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = wakeAt });
                p.Add(new NpgsqlParameter<TimeSpan?[]> { TypedValue = wakeAfter });
                p.Add(new NpgsqlParameter<string?[]> { TypedValue = waitReasons });
                batch.BatchCommands.Add(close);
                // The commit travels with the statement: one round trip closes the window.
                batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));

                await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    await MarkAppliedAsync(reader, finishes, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                // The commit's outcome is unknown if the connection broke; the server rolls back what it did not commit.
                await RollbackAsync(connection).ConfigureAwait(false);
                throw;
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0)
            {
                return;
            }

            try
            {
                await using var batch = new NpgsqlBatch(connection);
                batch.BatchCommands.Add(new NpgsqlBatchCommand("ROLLBACK"));
                // Rolled back on purpose: no attempt to charge.
                var forget = new NpgsqlBatchCommand(store._sql.ClaimWindows.Forget);
                forget.Parameters.Add(new NpgsqlParameter<long> { TypedValue = windowId });
                batch.BatchCommands.Add(forget);
                await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
            {
                // The connection is gone, and the transaction with it; the record names a transaction that never
                // committed, so the next claim charges the attempts.
                await RollbackAsync(connection).ConfigureAwait(false);
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>The statements of <c>PostgresStore.ClaimWindows.cs</c>: a claim by row lock, its record, and its close.</summary>
internal sealed class ClaimWindowSql
{
    /// <summary>The kind a window's close hands a still-running run over under a lease with (not a transition: a claim).</summary>
    public const string Promote = "promote";

    public ClaimWindowSql(string s)
    {
        OpenOneQueue = Open(s, "r.queue = $1");
        OpenManyQueues = Open(s, "r.queue = ANY($1)");

        Setup = "SELECT set_config('idle_in_transaction_session_timeout', $1, true)";

        // The window's transaction id, which its record names and which is its runs' epoch: assigned by the claim's
        // first row lock, so a claim that found nothing stays a read-only transaction, whose commit costs no flush.
        Transaction = "SELECT pg_current_xact_id_if_assigned()::text";

        Record = $"""
            INSERT INTO {s}.claim_windows (xact, worker_id, run_ids) VALUES ($1::xid8, $2, $3) RETURNING id
            """;

        // The rows are locked by this transaction since the window opened, still pending as they were then: the
        // close charges the attempt a claim would have, and applies each outcome's transition to it.
        Close = $"""
            WITH closing AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::interval[], $10::timestamptz[], $11::interval[], $12::text[])
                    AS c(id, kind, output, error, delay, wake_at, wake_after, wait_reason)
            ), closed AS (
                UPDATE {s}.runs r SET
                    status = CASE WHEN c.kind = '{Promote}' THEN {Sql.Running} ELSE {Sql.StatusAfter("c.kind")} END,
                    output = CASE WHEN c.kind = 'completed' THEN c.output ELSE r.output END,
                    error = CASE WHEN c.kind IN ('failed', 'retry') THEN c.error WHEN c.kind = 'completed' THEN NULL ELSE r.error END,
                    epoch = {Sql.ClaimEpoch}, -- the window's transaction: the epoch its runs were handed out with
                    attempt = r.attempt + 1 + {Sql.AttemptChange("c.kind")},
                    locked_by = CASE WHEN c.kind = '{Promote}' THEN $6 END,
                    lease_expires_at = CASE WHEN c.kind = '{Promote}' THEN clock_timestamp() + $7 END,
                    scheduled_at = {Sql.ScheduledAfter("c.kind", keep: "r.scheduled_at", afterDelay: "clock_timestamp() + c.delay", now: "clock_timestamp()",
                                                       wakeTime: "least(coalesce(c.wake_at, clock_timestamp() + c.wake_after, 'infinity'), r.deadline_at)")},
                    wait_reason = CASE WHEN c.kind = 'suspend' THEN c.wait_reason END,
                    -- now() is when the window's transaction began: the time of the claim.
                    started_at = coalesce(r.started_at, now()),
                    completed_at = CASE WHEN {Sql.Finishes("c.kind")} THEN clock_timestamp() END,
                    updated_at = clock_timestamp()
                FROM closing c
                -- By primary key. No status condition: 'pending' matches the ready index's, and the plan then walked
                -- every pending run to find these.
                WHERE r.id = ANY (ARRAY(SELECT id FROM closing)) AND r.id = c.id
                RETURNING r.id, r.status, r.queue, r.epoch, r.attempt - {Sql.AttemptChange("c.kind")} AS claimed_attempt, r.attempt,
                          c.kind, r.wait_reason, c.error
            ){Sql.History(s, "recorded", $"""
                -- A run handed over under a lease: its claim, at its time (the window's transaction began with it). A run
                -- that finished in the window: one row, its outcome, with the time of its claim in the detail, which the
                -- history's reader shows as the claim (one row per run, not two, for the runs that are quickest).
                SELECT id, CASE WHEN kind = '{Promote}' THEN now() ELSE clock_timestamp() END,
                       CASE WHEN kind = '{Promote}' THEN '{RunHistoryEvents.Claimed}' ELSE {Sql.HistoryEventOf("kind")} END,
                       $6, epoch, CASE WHEN kind = '{Promote}' THEN claimed_attempt ELSE attempt END,
                       CASE WHEN kind = '{Promote}' THEN NULL::jsonb
                            ELSE jsonb_build_object('{Sql.ClaimedAtKey}', now(), 'claimed_attempt', claimed_attempt)
                                 || CASE WHEN kind = 'suspend' THEN jsonb_build_object('reason', wait_reason)
                                         WHEN kind IN ('failed', 'retry') THEN jsonb_build_object('error', error)
                                         ELSE jsonb_build_object() END END
                FROM closed
                """)}, forgotten AS (
                DELETE FROM {s}.claim_windows WHERE id = $8 RETURNING id
            ){Sql.Notifications("closed", "$9")}
            SELECT id FROM closed
            WHERE (SELECT count(*) FROM forgotten) + (SELECT count(*) FROM work_notified) + (SELECT count(*) FROM done_notified) >= 0
            """;

        Forget = $"DELETE FROM {s}.claim_windows WHERE id = $1";
    }

    public string OpenOneQueue { get; }
    public string OpenManyQueues { get; }
    public string Setup { get; }
    public string Transaction { get; }
    public string Record { get; }
    public string Close { get; }
    public string Forget { get; }

    /// <summary>
    /// A claim window's claim: up to $2 ready runs locked by this transaction (skipping rows others hold), and
    /// nothing written. Each comes with the attempt it will have when the window closes; its epoch is the window
    /// transaction's id, read once the rows are locked (<see cref="Transaction"/>), so the column is a placeholder.
    /// </summary>
    private static string Open(string s, string queueFilter) => $"""
        SELECT r.id, r.workflow_name, r.workflow_version, r.input, 0::bigint, r.attempt + 1, r.max_attempts,
               r.cancel_requested, r.correlation_id, r.tags, r.started_at IS NOT NULL OR r.forked_from IS NOT NULL, now(), r.deadline_at - now(),
               r.trace_parent, r.trace_state
        {Sql.ReadyRuns(s, queueFilter, limit: "$2", names: "$3", versions: "$4")}
        """;
}
