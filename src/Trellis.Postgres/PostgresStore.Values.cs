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

    /// <summary>Whether run $1 has a value under key $2, the value, and whether the run has finished; no row when the run does not exist.</summary>
    public string Get { get; } = $"""
        SELECT v.run_id IS NOT NULL, v.value::text, r.completed_at IS NOT NULL
        FROM {s}.runs r LEFT JOIN {s}.run_values v ON v.run_id = r.id AND v.key = $2
        WHERE r.id = $1
        """;
}
