namespace Trellis.Postgres.Tests.Infrastructure;

/// <summary>Reads the body_log the test workflows write (see Trellis.TestWorker.BodyLog).</summary>
internal static class BodyLogQueries
{
    public static Task<long> CountAsync(this PostgresFixture database, string runId, string step, string @event, string? worker = null) =>
        database.ScalarAsync<long>(
            "SELECT count(*) FROM {schema}.body_log WHERE run_id = $1 AND step = $2 AND event = $3 AND ($4 = '' OR worker = $4)",
            runId, step, @event, worker ?? "");

    /// <summary>How often each (step, item) body started for a run.</summary>
    public static async Task<Dictionary<(string Step, int? Item), long>> StartsAsync(this PostgresFixture database, string runId)
    {
        var rows = await database.RowsAsync(
            "SELECT step, item, count(*) FROM {schema}.body_log WHERE run_id = $1 AND event = 'start' GROUP BY step, item", runId);
        return rows.ToDictionary(r => ((string)r[0]!, (int?)r[1]), r => (long)r[2]!);
    }
}
