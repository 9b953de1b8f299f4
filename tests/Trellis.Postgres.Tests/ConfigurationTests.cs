using Microsoft.Extensions.Logging;
using Npgsql;

namespace Trellis.Postgres.Tests;

/// <summary>Connection settings from options and environment variables (read through a fake environment).</summary>
public sealed class ConfigurationTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private static PostgresStoreOptions WithEnvironment(Dictionary<string, string> variables) =>
        new() { EnvironmentReader = name => variables.GetValueOrDefault(name) };

    private static NpgsqlConnectionStringBuilder Settings(PostgresStore store) => new(store.DataSource.ConnectionString);

    [Fact]
    public async Task PostgresStore_BothUrlVariablesSet_TrellisDatabaseUrlWins()
    {
        await using var store = new PostgresStore(WithEnvironment(new()
        {
            ["TRELLIS_DATABASE_URL"] = "postgres://trellis@primary.example:6000/flows",
            ["DATABASE_URL"] = "postgres://app@other.example/app",
        }));

        var settings = Settings(store);
        Assert.Equal(("primary.example", 6000, "flows", "trellis"), (settings.Host, settings.Port, settings.Database, settings.Username));
        Assert.Equal("trellis", store.Schema.Name);
    }

    [Fact]
    public async Task PostgresStore_OnlyDatabaseUrlAsKeyValueString_IsUsed()
    {
        await using var store = new PostgresStore(WithEnvironment(new() { ["DATABASE_URL"] = "Host=db;Port=5544;Database=app;Username=u" }));

        Assert.Equal(("db", 5544, "app"), (Settings(store).Host, Settings(store).Port, Settings(store).Database));
    }

    [Fact]
    public async Task PostgresStore_SchemaAndPoolVariables_AreApplied()
    {
        await using var store = new PostgresStore(WithEnvironment(new()
        {
            ["TRELLIS_DATABASE_URL"] = "postgres://u@h/db",
            ["TRELLIS_SCHEMA"] = "jobs",
            ["TRELLIS_MAX_POOL_SIZE"] = "7",
            ["TRELLIS_MIN_POOL_SIZE"] = "2",
            ["TRELLIS_CONNECTION_TIMEOUT"] = "3",
            ["TRELLIS_COMMAND_TIMEOUT"] = "9",
        }));

        var settings = Settings(store);
        Assert.Equal("jobs", store.Schema.Name);
        Assert.Equal((7, 2, 3, 9), (settings.MaxPoolSize, settings.MinPoolSize, settings.Timeout, settings.CommandTimeout));
    }

    [Fact]
    public async Task PostgresStore_OptionsSet_WinOverEnvironment()
    {
        var options = WithEnvironment(new() { ["TRELLIS_SCHEMA"] = "from_env", ["TRELLIS_MAX_POOL_SIZE"] = "7", ["TRELLIS_DATABASE_URL"] = "postgres://u@env/db" });
        options.ConnectionString = "postgres://u@code/db";
        options.Schema = "from_code";
        options.MaxPoolSize = 11;
        await using var store = new PostgresStore(options);

        Assert.Equal(("code", 11, "from_code"), (Settings(store).Host, Settings(store).MaxPoolSize, store.Schema.Name));
    }

    [Theory]
    [InlineData("TRELLIS_MAX_POOL_SIZE", "lots")]
    [InlineData("TRELLIS_COMMAND_TIMEOUT", "-1")]
    [InlineData("TRELLIS_SCHEMA", "drop table runs")]
    public void PostgresStore_InvalidVariable_ThrowsNamingIt(string name, string value)
    {
        var options = WithEnvironment(new() { ["TRELLIS_DATABASE_URL"] = "postgres://u@h/db", [name] = value });

        var error = Assert.ThrowsAny<Exception>(() => new PostgresStore(options));
        Assert.True(error is TrellisException or ArgumentException, error.GetType().Name);
        Assert.Contains(name == "TRELLIS_SCHEMA" ? value : name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PostgresStore_MinPoolAboveMax_ThrowsClearError()
    {
        var error = Assert.Throws<TrellisException>(() => new PostgresStore(new PostgresStoreOptions { ConnectionString = "Host=h", MinPoolSize = 5, MaxPoolSize = 2, ReadEnvironment = false }));
        Assert.Contains("minimum pool size", error.Message, StringComparison.Ordinal);
    }

    private sealed class Ping : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => context.StepAsync("pong", _ => Task.FromResult($"pong {input}"));
    }

    [Fact]
    public async Task UsePostgres_SharedDataSource_IsUsedAndNotDisposedByTrellis()
    {
        await using var shared = NpgsqlDataSource.Create(database.ConnectionString);
        await using (var engine = await TrellisEngine.Create()
            .UsePostgres(shared, pg => pg.Schema = database.Schema.Name)
            .AddWorkflow<Ping>()
            .ConfigureWorker(w => w.PollInterval = TimeSpan.FromMilliseconds(100))
            .StartAsync())
        {
            var run = await engine.Client.StartAsync<Ping>("shared");
            Assert.Equal("pong shared", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        }

        await using var stillOpen = shared.CreateCommand("SELECT 42");
        Assert.Equal(42, await stillOpen.ExecuteScalarAsync());
        output.WriteLine("the shared data source survived the engine");
    }

    [Theory]
    [InlineData("", 1)]
    [InlineData(";Options=-c plan_cache_mode=force_generic_plan", 0)]
    public async Task UsePostgres_SharedDataSource_WithoutGenericPlans_IsWarnedAboutOnce(string extraSettings, int warnings)
    {
        // A shared data source is used as it is; the fix for the one setting that matters is named in the warning.
        const int SharedDataSourceReplans = 1101;
        var events = new LoggedEvents();
        await using var shared = NpgsqlDataSource.Create(database.ConnectionString + extraSettings);
        await using (var engine = await TrellisEngine.Create()
            .UsePostgres(shared, pg => pg.Schema = database.Schema.Name)
            .AddWorkflow<Ping>()
            .UseLoggerFactory(LoggerFactory.Create(b => b.AddProvider(events).AddProvider(new XunitLoggerProvider(output))))
            .StartAsync())
        {
            var run = await engine.Client.StartAsync<Ping>("plans");
            Assert.Equal("pong plans", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        }

        Assert.Equal(warnings, events.Count(SharedDataSourceReplans));
    }
}
