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
            await using var record = _dataSource.CreateCommand(_sql.RecordWindow);
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
        var setup = new NpgsqlBatchCommand(_sql.OpenWindowSetup);
        setup.Parameters.Add(Text(((long)request.LeaseDuration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)));
        batch.BatchCommands.Add(setup);
        batch.BatchCommands.Add(RecoverLostWindowsCommand(request.Limit));

        var claim = new NpgsqlBatchCommand(request.Queues.Count == 1 ? _sql.OpenWindowOneQueue : _sql.OpenWindowManyQueues);
        claim.Parameters.Add(QueuesParameter(request));
        claim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = request.Limit });
        claim.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. request.Workflows.Select(w => w.Name)] });
        claim.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. request.Workflows.Select(w => w.Version)] });
        batch.BatchCommands.Add(claim);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.WindowTransaction));

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
            var i = 0;
            foreach (var finish in finishes)
            {
                ids[i] = finish.RunId;
                kinds[i] = KindText(finish.Kind);
                outputs[i] = finish.OutputJson;
                errors[i] = finish.ErrorJson;
                delays[i] = finish.RetryDelay;
                i++;
            }

            foreach (var id in promoted)
            {
                ids[i] = id;
                kinds[i] = "promote";
                i++;
            }

            try
            {
                await using var batch = new NpgsqlBatch(connection);
                var close = new NpgsqlBatchCommand(store._sql.CloseWindow);
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
                var forget = new NpgsqlBatchCommand(store._sql.ForgetWindow);
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
