using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres.Tests;

/// <summary>
/// A fresh schema whose tables autovacuum has not analyzed yet: PostgreSQL takes them for nearly empty, and a
/// prepared statement keeps the generic plan it made then while the table grows. Trellis's own connections
/// must get index plans from the first statement on.
/// </summary>
public sealed class YoungTablePlanTests(PostgresFixture database) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private PostgresSql _sql = null!;

    public async Task InitializeAsync()
    {
        _sql = new PostgresSql(database.Schema);

        // Autovacuum stays away, so the tables stay as young as they are at the start of a deployment.
        await database.MigrateAndSeedOnceAsync("""
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
        _sql.Checkpoints.WriteSteps,
        "'{young-1}', '{1}', '{0}', '{NULL}', '{s}', '{completed}', '{\"{}\"}', '{NULL}', '{NULL}', '{1}', '{2026-01-01}', '{2026-01-01}'");

    private Task<string> OutcomePlanAsync(NpgsqlDataSource dataSource) => GenericPlans.ExplainAsync(
        dataSource,
        GenericPlans.FinishRunsParameters,
        _sql.Checkpoints.FinishRuns,
        "'{young-1}', '{1}', '{completed}', '{\"{}\"}', '{NULL}', '{NULL}', '{NULL}', 'channel', '{NULL}', '{NULL}', '{NULL}', 'w'");

    [Fact]
    public async Task StepCheckpointAndOutcome_OnTrellisConnections_FindTheirRunsByPrimaryKey()
    {
        await using var store = database.NewStore();
        var checkpoint = await StepCheckpointPlanAsync(store.DataSource);
        var outcome = await OutcomePlanAsync(store.DataSource);

        Assert.Contains("runs_pkey", checkpoint, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", checkpoint, StringComparison.Ordinal);
        Assert.Contains("runs_pkey", outcome, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", outcome, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartClaimAndFinishedLookup_OnTrellisConnections_UseTheirIndexes()
    {
        await using var store = database.NewStore();
        var start = await GenericPlans.ExplainAsync(store.DataSource, GenericPlans.CreateRunsParameters, _sql.Runs.CreateRuns, GenericPlans.CreateRunsArguments);
        var claim = await GenericPlans.ExplainAsync(store.DataSource, GenericPlans.ClaimParameters, _sql.Queue.ClaimOneQueue, GenericPlans.ClaimArguments);
        var finished = await GenericPlans.ExplainAsync(store.DataSource, "text[]", _sql.Runs.GetFinishedRuns, "'{young-1}'");

        Assert.Contains("runs_ready", start, StringComparison.Ordinal);
        Assert.Contains("runs_ready", claim, StringComparison.Ordinal);
        Assert.Contains("runs_pkey", finished, StringComparison.Ordinal);
        Assert.DoesNotContain("runs_finished", finished, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", start + claim + finished, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrellisConnection_RepeatedStarts_ArePlannedOnceNotPerCall()
    {
        // One pooled connection, so the prepared start statement can be looked at where it lives.
        await using var store = database.NewStore(maxPoolSize: 1);
        for (var i = 0; i < 8; i++)
        {
            var run = new NewRun($"planned-once-{i}", "Wf1", 1, "planned", 0, "{}", null, new Dictionary<string, string>(), 3, null);
            Assert.True((await store.CreateRunsAsync([run]))[0].Created);
        }

        await using var command = store.DataSource.CreateCommand(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO%runs%unnest%wanted%' OR statement LIKE 'WITH wanted AS%'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "the start statement was not prepared");
        Assert.True(reader.GetInt64(0) >= 6, $"generic plans used: {reader.GetInt64(0)}");
        Assert.Equal(0, reader.GetInt64(1)); // never planned again for its arguments
    }

    [Fact]
    public async Task Listing_IsPlannedForItsFilters_AndLeavesTheConnectionOnGenericPlans()
    {
        await using var store = database.NewStore(maxPoolSize: 1);
        for (var i = 0; i < 3; i++)
        {
            var page = await store.ListRunsAsync(new RunQuery { WorkflowName = "Wf1", Status = RunStatus.Running });
            Assert.Equal(5, page.Runs.Count);
        }

        // Prepared after its second use; from then on planned for its arguments, not held to one plan.
        await using (var command = store.DataSource.CreateCommand(
            "SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE statement LIKE '%r.workflow_name = $2%'"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync(), "the listing was not prepared");
            Assert.True(reader.GetInt64(0) >= 1, "the listing was never planned for its arguments");
            Assert.Equal(0, reader.GetInt64(1));
        }

        await using var show = store.DataSource.CreateCommand("SHOW plan_cache_mode");
        Assert.Equal("force_generic_plan", await show.ExecuteScalarAsync());
    }

    [Fact]
    public async Task TrellisConnection_AfterAMigrationOnIt_HasSequentialScansOffAgain()
    {
        // The migration turns them on for its own transaction only; the pooled connection it used comes back as set up.
        await using var store = database.NewStore(maxPoolSize: 1);
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
