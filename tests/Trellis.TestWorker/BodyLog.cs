using Npgsql;
using Trellis.Postgres;

namespace Trellis.TestWorker;

/// <summary>
/// Records every start and end of a step body in <c>body_log</c>, outside Trellis and committed at
/// once, so that tests can count how often a body really ran, on which worker, even across SIGKILL.
/// </summary>
public sealed class BodyLog(NpgsqlDataSource dataSource, SchemaName schema, string workerId)
{
    public string WorkerId { get; } = workerId;

    /// <summary>This is the worker named "victim", the one a crash test kills: some test workflows hold only there.</summary>
    public bool OnVictim => WorkerId == "victim";

    public static async Task CreateTableAsync(NpgsqlDataSource dataSource, SchemaName schema)
    {
        await using var command = dataSource.CreateCommand($"""
            CREATE TABLE IF NOT EXISTS {schema.Quoted}.body_log (
                id      bigserial   PRIMARY KEY,
                run_id  text        NOT NULL,
                step    text        NOT NULL,
                item    integer,
                worker  text        NOT NULL,
                event   text        NOT NULL,
                at      timestamptz NOT NULL DEFAULT clock_timestamp())
            """);
        await command.ExecuteNonQueryAsync();
    }

    public async Task RecordAsync(string runId, string step, int? item, string @event)
    {
        await using var command = Insert(runId, step, item, @event, at: null);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Records that a body started at <paramref name="startedAt"/> (this machine's clock, read as the body began), retrying
    /// through a database restart: a body that ran must be on record, however late the record gets in.
    /// </summary>
    public async Task RecordStartDurablyAsync(string runId, string step, int? item, DateTimeOffset startedAt)
    {
        for (var tries = 1; ; tries++)
        {
            try
            {
                await using var command = Insert(runId, step, item, "start", startedAt);
                await command.ExecuteNonQueryAsync();
                return;
            }
            catch (NpgsqlException) when (tries < 600)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>One record; without <paramref name="at"/>, the database's clock at the insert.</summary>
    private NpgsqlCommand Insert(string runId, string step, int? item, string @event, DateTimeOffset? at)
    {
        var command = dataSource.CreateCommand(
            $"INSERT INTO {schema.Quoted}.body_log (run_id, step, item, worker, event, at) VALUES ($1, $2, $3, $4, $5, coalesce($6, clock_timestamp()))");
        command.Parameters.Add(new NpgsqlParameter { Value = runId });
        command.Parameters.Add(new NpgsqlParameter { Value = step });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)item ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = WorkerId });
        command.Parameters.Add(new NpgsqlParameter { Value = @event });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)at ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return command;
    }

    /// <summary>Runs <paramref name="body"/> between a "start" and an "end" record.</summary>
    public async Task<T> TraceAsync<T>(WorkflowContext context, string step, int? item, Func<Task<T>> body)
    {
        await RecordAsync(context.RunId, step, item, "start");
        var result = await body();
        await RecordAsync(context.RunId, step, item, "end");
        return result;
    }
}
