using Npgsql;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<bool> TryHoldLeaderLeaseAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        await using var command = _dataSource.CreateCommand(_sql.LeaderLeases.Hold);
        command.Parameters.Add(Text(name));
        command.Parameters.Add(Text(holder));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = duration });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc/>
    public async Task ReleaseLeaderLeaseAsync(string name, string holder, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        await using var command = _dataSource.CreateCommand(_sql.LeaderLeases.Release);
        command.Parameters.Add(Text(name));
        command.Parameters.Add(Text(holder));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The statements of <c>PostgresStore.LeaderLeases.cs</c>: one row of <c>leader_leases</c> per lease.</summary>
internal sealed class LeaderLeaseSql(string s)
{
    /// <summary>
    /// Takes the lease $1 for $2 for $3, when nobody holds it, its lease ran out, or $2 holds it: returns a row when $2
    /// holds it now. Two takers at once serialise on the row (or on the key, for the first): one of them finds it held.
    /// </summary>
    public string Hold { get; } = $"""
        INSERT INTO {s}.leader_leases AS l (name, holder, acquired_at, expires_at) VALUES ($1, $2, now(), now() + $3)
        ON CONFLICT (name) DO UPDATE SET
            holder = EXCLUDED.holder,
            acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE EXCLUDED.acquired_at END,
            expires_at = EXCLUDED.expires_at
        WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
        RETURNING 1
        """;

    public string Release { get; } = $"DELETE FROM {s}.leader_leases WHERE name = $1 AND holder = $2";
}
