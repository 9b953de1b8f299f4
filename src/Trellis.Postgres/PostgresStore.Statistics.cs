using Npgsql;
using NpgsqlTypes;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    private const int SlowStatementsShown = 10;

    /// <inheritdoc/>
    public async Task<StoreStatistics> GetStatisticsAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.PlanForTheWindow));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.Now));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.LiveCounts));
        batch.BatchCommands.Add(Windowed(_sql.Statistics.FinishedCounts, since));
        var tables = new NpgsqlBatchCommand(_sql.Statistics.Tables);
        tables.Parameters.Add(Text(Schema.Name));
        batch.BatchCommands.Add(tables);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.HasStatements));

        DateTimeOffset at;
        List<RunCount> live, finished;
        var sizes = new List<TableSize>();
        bool hasStatements;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            at = await ReadTimeAsync(reader, cancellationToken).ConfigureAwait(false);
            live = await ReadCountsAsync(reader, cancellationToken).ConfigureAwait(false);
            finished = await ReadCountsAsync(reader, cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                sizes.Add(new TableSize(reader.GetString(0), reader.GetInt64(1), (long)Math.Max(0, reader.GetFloat(2))));
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            hasStatements = reader.GetBoolean(0);
        }

        if (!hasStatements)
        {
            return new StoreStatistics(at, since, live, finished, sizes, [],
                "pg_stat_statements is not installed in this database: add it to shared_preload_libraries and run CREATE EXTENSION pg_stat_statements to see slow statements.");
        }

        var slow = new List<SlowStatement>();
        await using var command = _dataSource.CreateCommand(_sql.Statistics.SlowStatements);
        command.Parameters.Add(Text($"%{Schema.Quoted}.%"));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = SlowStatementsShown });
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                slow.Add(new SlowStatement(reader.GetString(0), reader.GetInt64(1), reader.GetDouble(2), reader.GetDouble(3)));
            }
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.ObjectNotInPrerequisiteState or PostgresErrorCodes.InsufficientPrivilege)
        {
            return new StoreStatistics(at, since, live, finished, sizes, [], $"pg_stat_statements cannot be read: {ex.MessageText}");
        }

        return new StoreStatistics(at, since, live, finished, sizes, slow, null);
    }

    /// <inheritdoc/>
    public async Task<RunAnalytics> GetAnalyticsAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.PlanForTheWindow));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Statistics.Now));
        batch.BatchCommands.Add(Windowed(_sql.Statistics.PerWorkflow, since));
        batch.BatchCommands.Add(Windowed(_sql.Statistics.PerTag, since));
        batch.BatchCommands.Add(Windowed(_sql.Statistics.PerMinute, since));
        batch.BatchCommands.Add(Windowed(_sql.Statistics.StepDurations, since));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var at = await ReadTimeAsync(reader, cancellationToken).ConfigureAwait(false);
        var workflows = await ReadFiguresAsync(reader, tags: false, cancellationToken).ConfigureAwait(false);
        var tags = await ReadFiguresAsync(reader, tags: true, cancellationToken).ConfigureAwait(false);
        var minutes = new List<MinuteThroughput>();
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            minutes.Add(new MinuteThroughput(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        var steps = new List<StepDurations>();
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var percentiles = reader.GetFieldValue<double[]>(3);
            steps.Add(new StepDurations(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), percentiles[0], percentiles[1], percentiles[2], reader.GetDouble(4)));
        }

        return new RunAnalytics(at, since, workflows, tags, minutes, steps);
    }

    private static NpgsqlBatchCommand Windowed(string sql, DateTimeOffset since)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = since.ToUniversalTime() });
        return command;
    }

    /// <summary>Reads the time, the batch's second result (after <see cref="StatisticsSql.PlanForTheWindow"/>).</summary>
    private static async Task<DateTimeOffset> ReadTimeAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.GetFieldValue<DateTimeOffset>(0);
    }

    private static async Task<List<RunCount>> ReadCountsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var counts = new List<RunCount>();
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            counts.Add(new RunCount(reader.GetString(0), StatusText.ParseRunStatus(reader.GetString(1)), reader.GetInt64(2)));
        }

        return counts;
    }

    private static async Task<List<RunFigures>> ReadFiguresAsync(NpgsqlDataReader reader, bool tags, CancellationToken cancellationToken)
    {
        var figures = new List<RunFigures>();
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var offset = tags ? 2 : 1;
            figures.Add(new RunFigures(
                tags ? "" : reader.GetString(0), tags ? reader.GetString(0) : null, tags ? reader.GetString(1) : null,
                reader.GetInt64(offset), reader.GetInt64(offset + 1), reader.GetInt64(offset + 2), reader.GetInt64(offset + 3)));
        }

        return figures;
    }
}

/// <summary>
/// The statements of <c>PostgresStore.Statistics.cs</c>. Live runs are read through the live-runs index; finished runs
/// only within the window ($1, their creation time), through the finished-runs indexes.
/// </summary>
internal sealed class StatisticsSql
{
    public StatisticsSql(string s)
    {
        const string Outcomes = $"""
            count(*) FILTER (WHERE status = {Sql.Completed}), count(*) FILTER (WHERE status = {Sql.Failed}),
            count(*) FILTER (WHERE status = {Sql.Cancelled})
            """;
        var window = $"""
            SELECT workflow_name, status, tags, true AS live FROM {s}.runs WHERE completed_at IS NULL
            UNION ALL
            SELECT workflow_name, status, tags, false FROM {s}.runs WHERE completed_at IS NOT NULL AND created_at >= $1
            """;
        LiveCounts = $"SELECT workflow_name, status, count(*) FROM {s}.runs WHERE completed_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2";
        FinishedCounts = $"SELECT workflow_name, status, count(*) FROM {s}.runs WHERE completed_at IS NOT NULL AND created_at >= $1 GROUP BY 1, 2 ORDER BY 1, 2";
        Tables = """
            SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
            ORDER BY 2 DESC
            """;
        PerWorkflow = $"""
            SELECT workflow_name, count(*) FILTER (WHERE live), {Outcomes.Replace("status", "w.status", StringComparison.Ordinal)}
            FROM ({window}) w GROUP BY 1 ORDER BY 1
            """;
        PerTag = $"""
            SELECT t.key, t.value, count(*) FILTER (WHERE live), {Outcomes.Replace("status", "w.status", StringComparison.Ordinal)}
            FROM ({window}) w CROSS JOIN LATERAL jsonb_each_text(w.tags) t
            WHERE w.tags <> jsonb_build_object()
            GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 100
            """;
        PerMinute = $"""
            SELECT date_trunc('minute', completed_at), workflow_name, {Outcomes}
            FROM {s}.runs WHERE completed_at IS NOT NULL AND created_at >= $1
            GROUP BY 1, 2 ORDER BY 1, 2
            """;
        // Completed step rows of runs finished in the window; not the rows a fork copied (epoch 0).
        StepDurations = $"""
            SELECT r.workflow_name, st.name, count(*),
                   percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM st.completed_at - st.started_at) * 1000),
                   max(extract(epoch FROM st.completed_at - st.started_at) * 1000)::float8
            FROM {s}.runs r JOIN {s}.steps st ON st.run_id = r.id
            WHERE r.completed_at IS NOT NULL AND r.created_at >= $1
              AND st.status = {Sql.Completed} AND st.epoch > 0 AND st.started_at IS NOT NULL AND st.completed_at IS NOT NULL
            GROUP BY 1, 2 ORDER BY 1, 2
            """;
    }

    public string Now { get; } = "SELECT statement_timestamp()";

    /// <summary>
    /// For the rest of the batch (one implicit transaction): plans made for the window given, not generic ones. A
    /// prepared statement's generic plan cannot know the window is an hour of a year's runs; it guesses a third of the
    /// table and plans parallel scans, ten times slower than the index range the window is.
    /// </summary>
    public string PlanForTheWindow { get; } =
        "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('max_parallel_workers_per_gather', '0', true)";

    public string LiveCounts { get; }

    public string FinishedCounts { get; }

    public string Tables { get; }

    public string HasStatements { get; } = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')";

    /// <summary>$1 a LIKE pattern naming the schema, $2 how many.</summary>
    public string SlowStatements { get; } = """
        SELECT query, calls, mean_exec_time, total_exec_time FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE $1
        ORDER BY mean_exec_time DESC LIMIT $2
        """;

    public string PerWorkflow { get; }

    public string PerTag { get; }

    public string PerMinute { get; }

    public string StepDurations { get; }
}
