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
        var command = new NpgsqlBatchCommand(request.Queues.Count == 1 ? _sql.ClaimOneQueue : _sql.ClaimManyQueues);
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

        await using var command = _dataSource.CreateCommand(_sql.RenewLeases);
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
        var expired = new NpgsqlBatchCommand(_sql.RecoverExpiredLeases);
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
            var own = new NpgsqlBatchCommand(_sql.RecoverWorkerRuns);
            own.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Batch });
            own.Parameters.Add(Text(_sql.Channel));
            own.Parameters.Add(Text(workerId));
            batch.BatchCommands.Add(own);
            var backlog = new NpgsqlBatchCommand(_sql.LeaseBacklog);
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
        var command = new NpgsqlBatchCommand(_sql.RecoverLostWindows);
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
