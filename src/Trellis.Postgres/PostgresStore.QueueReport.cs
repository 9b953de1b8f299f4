using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<QueueReport> GetQueueReportAsync(DateTimeOffset since, TimeSpan workersLiveWithin, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.PlanForTheWindow));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.Now));
        var perQueue = Windowed(_sql.QueueReport.PerQueue, since);
        perQueue.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = workersLiveWithin });
        batch.BatchCommands.Add(perQueue);
        batch.BatchCommands.Add(Windowed(_sql.QueueReport.PerMinute, since));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var at = await ReadTimeAsync(reader, cancellationToken).ConfigureAwait(false);

        var queues = new List<QueueFigures>();
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var age = reader.IsDBNull(5) ? TimeSpan.Zero : reader.GetFieldValue<TimeSpan>(5);
            queues.Add(new QueueFigures(
                reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), age < TimeSpan.Zero ? TimeSpan.Zero : age,
                reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10)));
        }

        var minutes = new List<QueueMinute>();
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            minutes.Add(new QueueMinute(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return new QueueReport(at, since, queues, minutes);
    }
}

/// <summary>
/// The statements of <c>PostgresStore.QueueReport.cs</c>. As for the statistics, live runs are read in full through the
/// live-runs index and finished runs only within the window ($1, their creation time).
/// </summary>
internal sealed class QueueReportSql(string s)
{
    private const string Outcomes = $"""
        count(*) FILTER (WHERE status = {Sql.Completed}), count(*) FILTER (WHERE status = {Sql.Failed}),
        count(*) FILTER (WHERE status = {Sql.Cancelled})
        """;

    /// <summary>$1 the window's start, $2 how recent a live worker's heartbeat is. Queues are joined by name (USING).</summary>
    public string PerQueue { get; } = $"""
        WITH live AS (
            SELECT queue,
                   count(*) FILTER (WHERE status = {Sql.Pending} AND scheduled_at <= now()) AS ready,
                   count(*) FILTER (WHERE status = {Sql.Pending} AND scheduled_at > now()) AS scheduled,
                   count(*) FILTER (WHERE status = {Sql.Running}) AS running,
                   count(*) FILTER (WHERE status = {Sql.Waiting}) AS waiting,
                   min(scheduled_at) FILTER (WHERE status = {Sql.Pending} AND scheduled_at <= now()) AS oldest_ready
            FROM {s}.runs WHERE completed_at IS NULL GROUP BY queue
        ), finished (queue, completed, failed, cancelled) AS (
            SELECT queue, {Outcomes} FROM {s}.runs WHERE completed_at IS NOT NULL AND created_at >= $1 GROUP BY queue
        ), served AS (
            SELECT q.queue, count(*) AS workers, sum(w.slots) AS slots
            FROM {s}.workers w CROSS JOIN LATERAL unnest(w.queues) AS q(queue)
            WHERE w.stopped_at IS NULL AND w.heartbeat_at > now() - $2
            GROUP BY q.queue
        )
        SELECT queue, coalesce(ready, 0), coalesce(scheduled, 0), coalesce(running, 0), coalesce(waiting, 0), now() - oldest_ready,
               coalesce(completed, 0), coalesce(failed, 0), coalesce(cancelled, 0), coalesce(workers, 0), coalesce(slots, 0)
        FROM live FULL JOIN finished USING (queue) FULL JOIN served USING (queue)
        ORDER BY queue
        """;

    /// <summary>$1 the window's start.</summary>
    public string PerMinute { get; } = $"""
        SELECT date_trunc('minute', completed_at), queue, {Outcomes}
        FROM {s}.runs WHERE completed_at IS NOT NULL AND created_at >= $1
        GROUP BY 1, 2 ORDER BY 1, 2
        """;
}
