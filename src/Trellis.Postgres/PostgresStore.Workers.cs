using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task RecordWorkerAsync(WorkerBeat beat, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(beat);
        await using var command = _dataSource.CreateCommand(_sql.Workers.Beat);
        command.Parameters.Add(Text(beat.WorkerId));
        command.Parameters.Add(Text(beat.Host));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = beat.ProcessId });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. beat.Queues] });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = beat.Slots });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = beat.RunsInFlight });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task RecordWorkerStoppedAsync(string workerId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.Workers.Stopped);
        command.Parameters.Add(Text(workerId));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<WorkerInfo>> GetLiveWorkersAsync(TimeSpan within, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.Workers.Live);
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = within });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var workers = new List<WorkerInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            workers.Add(new WorkerInfo(
                reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetFieldValue<string[]>(3), reader.GetInt32(4), reader.GetInt32(5),
                reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7)));
        }

        return workers;
    }
}

/// <summary>The statements of <c>PostgresStore.Workers.cs</c>: the workers' rows.</summary>
internal sealed class WorkerSql(string s)
{
    /// <summary>$1 id, $2 host, $3 process, $4 queues, $5 slots, $6 runs in flight. Also forgets workers silent for a day.</summary>
    public string Beat { get; } = $"""
        WITH forgotten AS (
            DELETE FROM {s}.workers WHERE heartbeat_at < now() - interval '1 day' AND id <> $1
        )
        INSERT INTO {s}.workers AS w (id, host, process_id, queues, slots, runs_in_flight)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (id) DO UPDATE SET
            host = excluded.host, process_id = excluded.process_id, queues = excluded.queues, slots = excluded.slots,
            runs_in_flight = excluded.runs_in_flight, heartbeat_at = now(), stopped_at = NULL,
            -- A new process under the same id (a restarted pod) starts again.
            started_at = CASE WHEN w.stopped_at IS NOT NULL OR w.process_id <> excluded.process_id OR w.host <> excluded.host
                              THEN now() ELSE w.started_at END
        """;

    public string Stopped { get; } = $"UPDATE {s}.workers SET stopped_at = now(), runs_in_flight = 0 WHERE id = $1";

    public string Live { get; } = $"""
        SELECT id, host, process_id, queues, slots, runs_in_flight, started_at, heartbeat_at FROM {s}.workers
        WHERE stopped_at IS NULL AND heartbeat_at > now() - $1
        ORDER BY id
        """;
}
