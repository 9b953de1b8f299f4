using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<bool> SetValueAsync(string runId, long epoch, string key, string? valueJson, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        CheckValueKey(key);
        await using var command = _dataSource.CreateCommand(_sql.Values.Set);
        command.Parameters.Add(Text(runId));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
        command.Parameters.Add(Text(key));
        command.Parameters.Add(JsonbArray([valueJson]));
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc/>
    public async Task<RunValue> GetValueAsync(string runId, string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        CheckValueKey(key);
        await using var command = _dataSource.CreateCommand(_sql.Values.Get);
        command.Parameters.Add(Text(runId));
        command.Parameters.Add(Text(key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return new RunValue(false, false, null, false);
        }

        return new RunValue(true, reader.GetBoolean(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetBoolean(2));
    }

    /// <inheritdoc/>
    public async Task<bool> AppendStreamAsync(string runId, long epoch, string key, int sequence, string? valueJson, bool closes, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        CheckValueKey(key);
        await using var command = _dataSource.CreateCommand(_sql.Values.Append);
        command.Parameters.Add(Text(runId));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
        command.Parameters.Add(Text(key));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = sequence });
        command.Parameters.Add(JsonbArray([valueJson]));
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = closes });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc/>
    public async Task<StreamPage> ReadStreamAsync(string runId, string key, int afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        CheckValueKey(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = _dataSource.CreateCommand(_sql.Values.ReadStream);
        command.Parameters.Add(Text(runId));
        command.Parameters.Add(Text(key));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = afterSequence });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var entries = new List<StreamEntry>();
        var exists = false;
        var finished = false;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            exists = true;
            finished = reader.GetBoolean(0);
            if (!reader.IsDBNull(1))
            {
                entries.Add(new StreamEntry(reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetBoolean(3)));
            }
        }

        return new StreamPage(exists, finished, entries);
    }

    private static void CheckValueKey(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (key.Length > MaxEventNameLength)
        {
            throw new ArgumentException($"A value's key is at most {MaxEventNameLength} characters (got {key.Length}).", nameof(key));
        }
    }
}

/// <summary>The statements of <c>PostgresStore.Values.cs</c>: the values runs publish.</summary>
internal sealed class ValueSql(string s)
{
    /// <summary>Sets run $1's value $4 (a one-element jsonb array) under key $3, if claim $2 holds the run; returns a row when it did.</summary>
    public string Set { get; } = $"""
        INSERT INTO {s}.run_values AS v (run_id, key, value)
        SELECT r.id, $3, ($4::jsonb[])[1] FROM {s}.runs r WHERE r.id = $1 AND r.epoch = $2 AND r.status = {Sql.Running}
        ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
        RETURNING 1
        """;

    /// <summary>Appends to run $1's stream $3 at position $4 the value $5 (a one-element jsonb array) or, with $6, its end; if claim $2 holds the run.</summary>
    public string Append { get; } = $"""
        INSERT INTO {s}.run_streams (run_id, key, seq, value, closed)
        SELECT r.id, $3, $4, ($5::jsonb[])[1], $6 FROM {s}.runs r WHERE r.id = $1 AND r.epoch = $2 AND r.status = {Sql.Running}
        ON CONFLICT (run_id, key, seq) DO UPDATE SET closed = EXCLUDED.closed
        RETURNING 1
        """;

    /// <summary>
    /// Run $1's stream $2 after position $3, at most $4 entries, each with whether the run had finished; one row without
    /// an entry when there are none, no row when the run does not exist.
    /// </summary>
    public string ReadStream { get; } = $"""
        SELECT r.completed_at IS NOT NULL, e.seq, e.value::text, coalesce(e.closed, false)
        FROM {s}.runs r LEFT JOIN LATERAL (
            SELECT seq, value, closed FROM {s}.run_streams
            WHERE run_id = r.id AND key = $2 AND seq > $3 ORDER BY seq LIMIT $4) e ON true
        WHERE r.id = $1
        ORDER BY e.seq
        """;

    /// <summary>Whether run $1 has a value under key $2, the value, and whether the run has finished; no row when the run does not exist.</summary>
    public string Get { get; } = $"""
        SELECT v.run_id IS NOT NULL, v.value::text, r.completed_at IS NOT NULL
        FROM {s}.runs r LEFT JOIN {s}.run_values v ON v.run_id = r.id AND v.key = $2
        WHERE r.id = $1
        """;
}
