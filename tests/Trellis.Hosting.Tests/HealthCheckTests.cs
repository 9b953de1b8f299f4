using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trellis.Hosting.Tests;

public sealed class HealthCheckTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private const string Unreachable = "Host=127.0.0.1;Port=1;Username=x;Database=y;Timeout=2";

    private sealed class Noop : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => Task.FromResult(input);
    }

    [Fact]
    public async Task CheckHealthAsync_HostStarted_TrellisEntryIsHealthy()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<Noop>());
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var engine = host.Services.GetRequiredService<TrellisEngine>();

        // The hosted service migrates the schema in the background once the host has started.
        HealthReport report = null!;
        await Eventually.HoldsAsync(
            async () => (report = await health.CheckHealthAsync()).Entries["trellis"].Status == HealthStatus.Healthy,
            "the trellis health check is healthy");

        var entry = report.Entries["trellis"];
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(engine.Worker!.WorkerId, entry.Data["worker"]);
        Assert.Equal(0, entry.Data["runs_in_flight"]);
        Assert.Contains(["trellis", "database"], entry.Tags.ToArray());
    }

    [Fact]
    public async Task CheckHealthAsync_NoLiveWorkerAnywhere_IsDegradedWithTheReason()
    {
        // A schema of its own: the class's other tests start workers in theirs.
        var lonely = new PostgresFixture();
        await lonely.InitializeAsync();
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(lonely).AddWorkflow<Noop>().ConfigureWorker(w => w.Enabled = false));
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();

        HealthReport report = null!;
        await Eventually.HoldsAsync(
            async () => (report = await health.CheckHealthAsync()).Entries["trellis"].Status != HealthStatus.Unhealthy, "the store is migrated");
        var entry = report.Entries["trellis"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("no worker", entry.Description, StringComparison.Ordinal);
        await host.StopAsync();
        await lonely.DisposeAsync();
    }

    [Fact]
    public async Task CheckHealthAsync_StoreMigratedButEngineStillStarting_IsUnhealthyUntilItHasStarted()
    {
        // The schema is migrated already (an earlier deploy); this engine's start waits on the migration lock.
        await using (var earlier = await TrellisEngine.Create().UseTestDatabase(database).AddWorkflow<Noop>().StartAsync())
        {
        }

        await using var blocker = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext($1))", blocker, transaction))
        {
            hold.Parameters.Add(new Npgsql.NpgsqlParameter { Value = $"trellis.migrate:{database.Schema.Name}" });
            await hold.ExecuteNonQueryAsync();
        }

        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<Noop>());
        var host = builder.Build();
        var starting = host.StartAsync();
        try
        {
            var health = host.Services.GetRequiredService<HealthCheckService>();
            var waiting = (await health.CheckHealthAsync()).Entries["trellis"];
            Assert.False(starting.IsCompleted);
            Assert.Equal(HealthStatus.Unhealthy, waiting.Status);
            Assert.Contains("not running", waiting.Description, StringComparison.Ordinal);

            await transaction.RollbackAsync();
            await starting;
            Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Entries["trellis"].Status);
        }
        finally
        {
            await starting.WaitAsync(TimeSpan.FromSeconds(30));
            await host.StopAndDisposeAsync();
        }
    }

    [Fact]
    public async Task CheckHealthAsync_SchemaNotMigrated_TrellisEntryIsUnhealthy()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t
            .UsePostgres(database.ConnectionString, pg =>
            {
                pg.Schema = $"unmigrated_{Guid.NewGuid():N}"[..20];
                pg.ReadEnvironment = false;
            })
            .Configure(o => o.MigrateOnStart = false)
            .ConfigureWorker(w => w.Enabled = false));
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync();

        var entry = report.Entries["trellis"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.StartsWith("The Trellis store is not usable", entry.Description, StringComparison.Ordinal);
        Assert.Contains("has not been migrated", entry.Description, StringComparison.Ordinal);
        Assert.Equal("none", entry.Data["worker"]);
    }

    [Fact]
    public async Task CheckHealthAsync_DatabaseUnreachable_TrellisEntryIsUnhealthy()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t
            .UsePostgres(Unreachable, pg =>
            {
                pg.Schema = database.Schema.Name;
                pg.ReadEnvironment = false;
            })
            .Configure(o => o.MigrateOnStart = false)
            .ConfigureWorker(w => w.Enabled = false));
        await using var host = builder.BuildTestHost();
        using var startTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StartAsync(startTimeout.Token);
        var health = host.Services.GetRequiredService<HealthCheckService>();

        using var checkTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var report = await health.CheckHealthAsync(checkTimeout.Token);

        var entry = report.Entries["trellis"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.StartsWith("The Trellis store is not usable", entry.Description, StringComparison.Ordinal);
        Assert.NotNull(entry.Exception);
    }
}
