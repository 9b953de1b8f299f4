using Npgsql;

namespace Trellis.Postgres.Tests.Infrastructure;

/// <summary>
/// The plan PostgreSQL keeps for a statement Npgsql has prepared: the generic one, which cannot see the
/// arguments (nor how many rows their arrays hold).
/// </summary>
internal static class GenericPlans
{
    /// <summary>The parameter types of <see cref="PostgresSql.WriteSteps"/>, the step checkpoint.</summary>
    public const string WriteStepsParameters = "text[], bigint[], int[], int[], text[], text[], jsonb[], jsonb[], jsonb[], int[], timestamptz[], timestamptz[]";

    /// <summary>The parameter types of <see cref="PostgresSql.ClaimOneQueue"/>.</summary>
    public const string ClaimParameters = "text, int, text, interval, text[], int[]";

    /// <summary>The parameter types of <see cref="PostgresSql.CreateRuns"/>, the start.</summary>
    public const string CreateRunsParameters =
        "text[], text[], int[], text[], int[], jsonb[], text[], jsonb[], int[], timestamptz[], interval[], text[], interval[], text, int[], text[], boolean[], interval[], text[], text[]";

    /// <summary>Arguments for <see cref="ClaimParameters"/>: up to 10 runs of Wf1 version 1 from queue "default", for worker "w".</summary>
    public const string ClaimArguments = "'default', 10, 'w', '30 s', '{Wf1}', '{1}'";

    /// <summary>Arguments for <see cref="CreateRunsParameters"/>: one run of Wf1 in queue "default", for worker "w" if it is free.</summary>
    public const string CreateRunsArguments =
        "'{new-1}', '{Wf1}', '{1}', '{default}', '{0}', '{\"{}\"}', '{NULL}', '{\"{}\"}', '{3}', '{NULL}', '{0}', '{w}', '{30 s}', 'channel', '{50}', '{NULL}', '{true}', '{NULL}', '{NULL}', '{NULL}'";

    /// <summary>The parameter types of <see cref="PostgresSql.FinishRuns"/>, the run outcomes.</summary>
    public const string FinishRunsParameters = "text[], bigint[], text[], jsonb[], jsonb[], interval[], int[], text, timestamptz[], interval[], text[], text";

    /// <summary>
    /// Prepares <paramref name="statement"/> on a connection of <paramref name="dataSource"/> with a forced generic
    /// plan and returns <c>EXPLAIN EXECUTE</c> of it with <paramref name="arguments"/> (SQL literals). Nothing is executed.
    /// </summary>
    public static async Task<string> ExplainAsync(NpgsqlDataSource dataSource, string parameterTypes, string statement, string arguments)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var prepare = new NpgsqlCommand(
            $"SET LOCAL plan_cache_mode = force_generic_plan; PREPARE generic_plan ({parameterTypes}) AS {statement}", connection))
        {
            await prepare.ExecuteNonQueryAsync();
        }

        var lines = new List<string>();
        await using (var explain = new NpgsqlCommand($"EXPLAIN EXECUTE generic_plan({arguments})", connection))
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                lines.Add(reader.GetString(0));
            }
        }

        await transaction.RollbackAsync();
        // A prepared statement outlives the transaction; the pooled connection must not keep it.
        await using (var deallocate = new NpgsqlCommand("DEALLOCATE generic_plan", connection))
        {
            await deallocate.ExecuteNonQueryAsync();
        }

        return string.Join('\n', lines);
    }
}
