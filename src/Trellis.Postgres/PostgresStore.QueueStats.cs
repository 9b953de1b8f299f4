using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<IReadOnlyList<QueueStats>> GetQueueStatsAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queues);
        if (queues.Count == 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand(_sql.QueueStats);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. queues] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var stats = new List<QueueStats>(queues.Count);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var age = reader.IsDBNull(2) ? TimeSpan.Zero : reader.GetFieldValue<TimeSpan>(2);
            stats.Add(new QueueStats(reader.GetString(0), reader.GetInt64(1), age < TimeSpan.Zero ? TimeSpan.Zero : age));
        }

        return stats;
    }

    /// <summary>
    /// Per queue, its ready runs: the ones a claim would take (<see cref="Sql.ReadyRuns"/>), counted on the partial
    /// index of pending runs (<c>runs_ready</c>: queue first), one index range per queue.
    /// </summary>
    internal static string QueueStatsSql(string s) => $"""
        SELECT q.queue, r.ready, now() - r.oldest
        FROM unnest($1::text[]) AS q(queue)
        CROSS JOIN LATERAL (
            SELECT count(*) AS ready, min(scheduled_at) AS oldest
            FROM {s}.runs
            WHERE status = {Sql.Pending} AND queue = q.queue AND scheduled_at <= now()
        ) r
        """;
}
