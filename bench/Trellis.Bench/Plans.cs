using System.Text;
using Npgsql;
using NpgsqlTypes;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>
/// The plans of the hot statements (claim window, claim, step checkpoint, run outcome) on tables that already hold
/// the prefilled finished runs, as PostgreSQL runs them once Npgsql has prepared them (generic plans),
/// executed for real (EXPLAIN ANALYZE) inside one transaction that is rolled back.
/// </summary>
internal static class Plans
{
    private const int Batch = 500;
    private static int _prepared;
    private static readonly string[] ClaimableNames = [nameof(ThreeSteps)];
    private static readonly int[] ClaimableVersions = [1];

    public static async Task<string> ExplainAsync(BenchOptions options, NpgsqlDataSource dataSource)
    {
        var sql = new PostgresSql(SchemaName.Parse("trellis"));
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, "SET LOCAL plan_cache_mode = force_generic_plan");

        var report = new StringBuilder();
        var runs = await ScalarAsync(connection, "SELECT count(*) FROM trellis.runs");
        var steps = await ScalarAsync(connection, "SELECT count(*) FROM trellis.steps");
        var pending = await ScalarAsync(connection, "SELECT count(*) FROM trellis.runs WHERE status = 'pending'");
        report.AppendLine($"Tables: {runs:N0} runs ({pending:N0} pending), {steps:N0} steps. Plans forced generic (what a prepared statement uses), executed with EXPLAIN (ANALYZE, BUFFERS) in a transaction rolled back afterwards.");
        report.AppendLine();

        // A claim window (the worker's default): lock 500 ready runs, then close with their outcomes.
        var window = await ExplainAsync(connection, sql.ClaimWindows.OpenOneQueue, "text, int, text[], int[]",
            Text("default"), Value(Batch), Value(ClaimableNames), Value(ClaimableVersions));
        Append(report, $"Claim window of {Batch} runs, opened (`OpenWindowOneQueue`)", window);
        var locked = new List<string>();
        await using (var command = new NpgsqlCommand(
            "SELECT id FROM trellis.runs WHERE status = 'pending' AND queue = 'default' AND scheduled_at <= now() ORDER BY priority DESC, scheduled_at LIMIT $1",
            connection))
        {
            command.Parameters.Add(Value(Batch));
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                locked.Add(reader.GetString(0));
            }
        }

        var close = await ExplainAsync(connection, sql.ClaimWindows.Close, "text[], text[], jsonb[], jsonb[], interval[], text, interval, bigint, text, timestamptz[], interval[], text[]",
            Value(locked.ToArray()), Value(locked.Select(_ => "completed").ToArray()),
            JsonbArray([.. locked.Select(_ => (string?)"{\"done\":true}")]), JsonbArray(new string?[locked.Count]),
            Value(locked.Select(_ => TimeSpan.Zero).ToArray()), Text("plans-worker"), Value(TimeSpan.FromSeconds(30)), Value(0L), Text(sql.Channel),
            Value(new DateTimeOffset?[locked.Count]), Value(new TimeSpan?[locked.Count]), Value(new string?[locked.Count]));
        Append(report, $"Claim window of {locked.Count} runs, closed with their outcomes (`CloseWindow`)", close);

        var claim = await ExplainAsync(connection, sql.Queue.ClaimOneQueue, "text, int, text, interval, text[], int[]",
            Text("default"), Value(Batch), Text("plans-worker"), Value(TimeSpan.FromSeconds(30)),
            Value(ClaimableNames), Value(ClaimableVersions));
        Append(report, $"Claim of {Batch} runs with a lease at once (`ClaimOneQueue`; the next 500)", claim);

        var held = new List<(string Id, long Epoch)>();
        await using (var command = new NpgsqlCommand("SELECT id, epoch FROM trellis.runs WHERE locked_by = 'plans-worker'", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                held.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        var now = DateTimeOffset.UtcNow;
        var ids = held.Select(h => h.Id).ToArray();
        var epochs = held.Select(h => h.Epoch).ToArray();
        var results = held.Select((_, i) => (string?)$$"""{"step":1,"i":{{i}},"prev":0}""").ToArray();
        var checkpoint = await ExplainAsync(connection, sql.Checkpoints.WriteSteps,
            "text[], bigint[], int[], int[], text[], text[], jsonb[], jsonb[], jsonb[], int[], timestamptz[], timestamptz[]",
            Value(ids), Value(epochs), Value(held.Select(_ => 0).ToArray()), Value(held.Select(_ => (int?)null).ToArray()),
            Value(held.Select(_ => "step1").ToArray()), Value(held.Select(_ => "completed").ToArray()),
            JsonbArray(results), JsonbArray(new string?[held.Count]), JsonbArray(new string?[held.Count]),
            Value(held.Select(_ => 1).ToArray()), Value(held.Select(_ => now).ToArray()), Value(held.Select(_ => (DateTimeOffset?)now).ToArray()));
        Append(report, $"Step checkpoint of {held.Count} step rows, one per run (`WriteSteps`)", checkpoint);

        var finish = await ExplainAsync(connection, sql.Checkpoints.FinishRuns, "text[], bigint[], text[], jsonb[], jsonb[], interval[], int[], text, timestamptz[], interval[], text[]",
            Value(ids), Value(epochs), Value(held.Select(_ => "completed").ToArray()), JsonbArray(results),
            JsonbArray(new string?[held.Count]), Value(held.Select(_ => TimeSpan.Zero).ToArray()), Value(held.Select(_ => (int?)null).ToArray()),
            Text(sql.Channel), Value(new DateTimeOffset?[held.Count]), Value(new TimeSpan?[held.Count]), Value(new string?[held.Count]));
        Append(report, $"Outcome of {held.Count} runs (`FinishRuns`)", finish);

        await transaction.RollbackAsync();
        return report.ToString();
    }

    /// <summary>
    /// The plans of the statistics and analytics statements over the last hour, as the store runs them: planned for the
    /// window given (custom plans), without parallel workers, sequential scans off as on Trellis's connections.
    /// </summary>
    public static async Task<string> ExplainOperationsAsync(NpgsqlDataSource dataSource)
    {
        var sql = new PostgresSql(SchemaName.Parse("trellis")).Statistics;
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(connection, "SET LOCAL max_parallel_workers_per_gather = 0");
        await ExecuteAsync(connection, "SET LOCAL enable_seqscan = off");
        var report = new StringBuilder();
        var runs = await ScalarAsync(connection, "SELECT count(*) FROM trellis.runs");
        var recent = await ScalarAsync(connection, "SELECT count(*) FROM trellis.runs WHERE created_at >= now() - interval '1 hour'");
        report.AppendLine($"Tables: {runs:N0} runs, {recent:N0} of them created in the last hour. EXPLAIN (ANALYZE, BUFFERS) of each statement with the window of an hour.");
        report.AppendLine();
        foreach (var (title, statement) in new[]
        {
            ("Live runs by workflow and status (`LiveCounts`)", sql.LiveCounts),
            ("Finished runs of the window by workflow and status (`FinishedCounts`)", sql.FinishedCounts),
            ("Per workflow: active, completed, failed, cancelled (`PerWorkflow`)", sql.PerWorkflow),
            ("Per tag (`PerTag`)", sql.PerTag),
            ("Completions per minute (`PerMinute`)", sql.PerMinute),
            ("Step-duration percentiles (`StepDurations`)", sql.StepDurations),
        })
        {
            await using var command = new NpgsqlCommand($"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", connection);
            if (statement.Contains("$1", StringComparison.Ordinal))
            {
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = DateTimeOffset.UtcNow.AddHours(-1) });
            }

            var lines = new List<string>();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    lines.Add(reader.GetString(0));
                }
            }

            Append(report, title, string.Join('\n', lines));
        }

        await transaction.RollbackAsync();
        return report.ToString();
    }

    private static void Append(StringBuilder report, string title, string plan)
    {
        report.AppendLine($"#### {title}");
        report.AppendLine();
        report.AppendLine("```");
        report.AppendLine(plan);
        report.AppendLine("```");
        report.AppendLine();
    }

    private static async Task<string> ExplainAsync(NpgsqlConnection connection, string statement, string types, params NpgsqlParameter[] parameters)
    {
        // A statement prepared in SQL and run with EXECUTE gets the generic plan under force_generic_plan, as
        // a statement Npgsql prepared does (a parameterised EXPLAIN would be planned for its values). EXECUTE
        // inside EXPLAIN takes no bind parameters, so each value travels as a parameter into a transaction-local
        // setting, and EXECUTE reads it back with its type.
        var name = $"plan_{Interlocked.Increment(ref _prepared)}";
        var typeList = types.Split(", ");
        await ExecuteAsync(connection, $"PREPARE {name} ({types}) AS {statement}");
        for (var i = 0; i < parameters.Length; i++)
        {
            await using var set = new NpgsqlCommand($"SELECT set_config('trellis_plans.p{i + 1}', $1::text, true)", connection);
            set.Parameters.Add(parameters[i]);
            await set.ExecuteNonQueryAsync();
        }

        var arguments = string.Join(", ", typeList.Select((type, i) => $"current_setting('trellis_plans.p{i + 1}')::{type}"));
        await using var command = new NpgsqlCommand($"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE {name}({arguments})", connection);
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join('\n', lines);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string statement)
    {
        await using var command = new NpgsqlCommand(statement, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string statement)
    {
        await using var command = new NpgsqlCommand(statement, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static NpgsqlParameter<string> Text(string value) => new NpgsqlParameter<string> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Text };

    private static NpgsqlParameter<T> Value<T>(T value) => new() { TypedValue = value };

    private static NpgsqlParameter JsonbArray(string?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = values };
}
