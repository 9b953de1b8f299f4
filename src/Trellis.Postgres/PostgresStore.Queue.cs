using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    public async Task<IReadOnlyList<ClaimedRun>> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var oneQueue = request.Queues.Count == 1;
        await using var command = _dataSource.CreateCommand(oneQueue ? _sql.ClaimOneQueue : _sql.ClaimManyQueues);
        command.Parameters.Add(oneQueue ? Text(request.Queues[0]) : new NpgsqlParameter<string[]> { TypedValue = [.. request.Queues] });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = request.Limit });
        command.Parameters.Add(Text(request.WorkerId));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = request.LeaseDuration });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. request.Workflows.Select(w => w.Name)] });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. request.Workflows.Select(w => w.Version)] });

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var claimed = new List<ClaimedRun>(request.Limit);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            claimed.Add(PostgresReaders.ReadClaim(reader));
        }

        return claimed;
    }

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

    public async Task<int> RecoverExpiredLeasesAsync(int limit, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        foreach (var sql in (ReadOnlySpan<string>)[_sql.RecoverExpiredLeases, _sql.RecoverLostWindows])
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            command.Parameters.Add(Text(_sql.Channel));
            batch.BatchCommands.Add(command);
        }

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
}
