using Npgsql;
using Trellis.Postgres.Tests.Infrastructure;

namespace Trellis.Postgres.Tests;

/// <summary>
/// A fresh schema whose tables autovacuum has not analyzed yet: PostgreSQL takes them for nearly empty, and a
/// prepared statement keeps the generic plan it made then while the table grows. Trellis's own connections
/// must get index plans from the first statement on.
/// </summary>
public sealed class YoungTablePlanTests(PostgresFixture database) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private PostgresSql _sql = null!;

    private PostgresStore NewStore() =>
        new(new PostgresStoreOptions { ConnectionString = database.ConnectionString, Schema = database.Schema.Name, ReadEnvironment = false });

    public async Task InitializeAsync()
    {
        await using (var store = NewStore())
        {
            await store.MigrateAsync();
        }

        _sql = new PostgresSql(database.Schema);
        if (await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs") > 0)
        {
            return; // xunit makes an instance per test; the class's schema is filled once
        }

        // Autovacuum stays away, so the tables stay as young as they are at the start of a deployment.
        await database.ScalarAsync<int>("""
            ALTER TABLE {schema}.runs SET (autovacuum_enabled = off);
            ALTER TABLE {schema}.steps SET (autovacuum_enabled = off);
            INSERT INTO {schema}.runs (id, workflow_name, workflow_version, queue, status, input, max_attempts, lease_expires_at, epoch)
            SELECT 'young-' || i, 'Wf1', 1, 'default', 'running', '{}', 3, now() + interval '30 seconds', 1 FROM generate_series(1, 5) i;
            """);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<string> StepCheckpointPlanAsync(NpgsqlDataSource dataSource) => GenericPlans.ExplainAsync(
        dataSource,
        GenericPlans.WriteStepsParameters,
        _sql.WriteSteps,
        "'{young-1}', '{1}', '{0}', '{NULL}', '{s}', '{completed}', '{\"{}\"}', '{NULL}', '{NULL}', '{1}', '{2026-01-01}', '{2026-01-01}'");

    private Task<string> OutcomePlanAsync(NpgsqlDataSource dataSource) => GenericPlans.ExplainAsync(
        dataSource,
        GenericPlans.FinishRunsParameters,
        _sql.FinishRuns,
        "'{young-1}', '{1}', '{completed}', '{\"{}\"}', '{NULL}', '{NULL}', '{NULL}', 'channel'");

    [Fact]
    public async Task StepCheckpointAndOutcome_OnTrellisConnections_FindTheirRunsByPrimaryKey()
    {
        await using var store = NewStore();
        var checkpoint = await StepCheckpointPlanAsync(store.DataSource);
        var outcome = await OutcomePlanAsync(store.DataSource);

        Assert.Contains("runs_pkey", checkpoint, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", checkpoint, StringComparison.Ordinal);
        Assert.Contains("runs_pkey", outcome, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", outcome, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrellisConnection_AfterAMigrationOnIt_HasSequentialScansOffAgain()
    {
        // The migration turns them on for its own transaction only; the pooled connection it used comes back as set up.
        await using var store = new PostgresStore(new PostgresStoreOptions
        {
            ConnectionString = database.ConnectionString, Schema = database.Schema.Name, ReadEnvironment = false, MaxPoolSize = 1,
        });
        await store.MigrateAsync();

        await using var command = store.DataSource.CreateCommand("SHOW enable_seqscan");
        Assert.Equal("off", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task StepCheckpointAndOutcome_OnAPlainConnection_ScanTheWholeTable()
    {
        // Why Trellis sets up its connections: the same statements on a connection with the server's defaults.
        var checkpoint = await StepCheckpointPlanAsync(database.DataSource);
        var outcome = await OutcomePlanAsync(database.DataSource);

        Assert.Contains("Seq Scan on runs", checkpoint + outcome, StringComparison.Ordinal);
    }
}
