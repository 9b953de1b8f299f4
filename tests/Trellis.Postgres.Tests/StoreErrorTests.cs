using Npgsql;
using Trellis.Postgres.Embedded;

namespace Trellis.Postgres.Tests;

/// <summary>What a user gets wrong when pointing Trellis at a database gets an error that says what to fix, and where.</summary>
public sealed class StoreErrorTests(PostgresFixture database) : IClassFixture<PostgresFixture>
{
    private sealed class Noop : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => Task.FromResult(input);
    }

    [Fact]
    public async Task MissingDatabase_NamesTheDatabaseAndTheEnvironmentVariableItCameFrom()
    {
        var url = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Database = "no_such_database" }.ConnectionString;

        var error = await Assert.ThrowsAsync<StoreConfigurationException>(() => StartAsync(new PostgresStoreOptions
        {
            EnvironmentReader = name => name == "TRELLIS_DATABASE_URL" ? url : null,
        }));

        Assert.Contains("Database 'no_such_database' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Equal("TRELLIS_DATABASE_URL", error.Setting);
        Assert.Contains("TRELLIS_DATABASE_URL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableServer_SaysSo_NamingTheOption()
    {
        var error = await Assert.ThrowsAsync<StoreConfigurationException>(() => StartAsync(new PostgresStoreOptions
        {
            ConnectionString = "Host=127.0.0.1;Port=1;Username=app;Database=app;Timeout=3",
            ReadEnvironment = false,
        }));

        Assert.Contains("PostgreSQL at 127.0.0.1:1 cannot be reached", error.Message, StringComparison.Ordinal);
        Assert.Contains("PostgresStoreOptions.ConnectionString", error.Setting, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongPassword_NamesTheUserAndTheSetting()
    {
        // A server of its own, which asks this role for its password (the shared test server trusts every local connection).
        var dataDirectory = EmbeddedPostgres.DefaultDataDirectory($"test-password-{Guid.NewGuid():N}"[..23]);
        var server = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = dataDirectory });
        try
        {
            await using (var admin = NpgsqlDataSource.Create(server.ConnectionString))
            {
                await using var role = admin.CreateCommand("CREATE ROLE careful LOGIN PASSWORD 'right-one'");
                await role.ExecuteNonQueryAsync();
                var hba = Path.Combine(dataDirectory, "pg_hba.conf");
                await File.WriteAllTextAsync(hba, "host all careful 127.0.0.1/32 scram-sha-256\n" + await File.ReadAllTextAsync(hba));
                await using var reload = admin.CreateCommand("SELECT pg_reload_conf()");
                await reload.ExecuteScalarAsync();
            }

            var wrong = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Username = "careful", Password = "wrong-one" }.ConnectionString;
            var error = await Assert.ThrowsAsync<StoreConfigurationException>(() => StartAsync(new PostgresStoreOptions
            {
                EnvironmentReader = name => name == "DATABASE_URL" ? wrong : null,
            }));

            Assert.Contains("refused the password of user 'careful'", error.Message, StringComparison.Ordinal);
            Assert.Equal("DATABASE_URL", error.Setting);
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(dataDirectory, recursive: true);
            File.Delete(server.LogFile);
            File.Delete(dataDirectory + ".lock");
        }
    }

    [Fact]
    public async Task SchemaHoldingTablesOfTheSameNames_IsRefusedBeforeAnythingIsCreated()
    {
        var schema = $"app_{Guid.NewGuid():N}"[..16];
        await database.ScalarAsync<int>($"CREATE SCHEMA {schema}; CREATE TABLE {schema}.runs (mine int); SELECT 1");
        try
        {
            var error = await Assert.ThrowsAsync<StoreConfigurationException>(() => StartAsync(new PostgresStoreOptions
            {
                ConnectionString = database.ConnectionString,
                Schema = schema,
                ReadEnvironment = false,
            }));

            Assert.Contains($"Schema '{schema}' already holds tables that Trellis did not create (runs)", error.Message, StringComparison.Ordinal);
            Assert.Contains("TRELLIS_SCHEMA", error.Message, StringComparison.Ordinal);
            Assert.Equal(["runs"], (await database.RowsAsync(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)).Select(r => (string)r[0]!));
        }
        finally
        {
            await database.ScalarAsync<int>($"DROP SCHEMA {schema} CASCADE; SELECT 1");
        }
    }

    private static async Task StartAsync(PostgresStoreOptions options)
    {
        var builder = TrellisEngine.Create().UseStore(context => new PostgresStore(options, context.LoggerFactory), PostgresStore.IsTransient).AddWorkflow<Noop>();
        await using var engine = await builder.StartAsync();
    }
}
