using Npgsql;
using Trellis.Postgres.Embedded;

namespace Trellis.Postgres.Tests;

/// <summary>Starts real servers from the PostgreSQL binaries installed on the machine, each in its own temporary folder.</summary>
public sealed class EmbeddedPostgresTests
{
    [Fact]
    public async Task StartAsync_EmptyFolder_ServerAnswersQueries()
    {
        await using var folder = new TemporaryFolder();
        await using var server = await folder.StartAsync();

        var version = await QueryAsync<string>(server.ConnectionString, "SELECT version()");

        Assert.StartsWith("PostgreSQL", version, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "PG_VERSION")));
        Assert.True(File.Exists(server.LogFile));
    }

    [Fact]
    public async Task StartAsync_NewDatabaseName_CreatesDatabase()
    {
        await using var folder = new TemporaryFolder();
        await using var server = await folder.StartAsync("embedded_check");

        var connectedTo = await QueryAsync<string>(server.ConnectionString, "SELECT current_database()");
        var settings = new NpgsqlConnectionStringBuilder(server.ConnectionString);

        Assert.Equal("embedded_check", connectedTo);
        Assert.Equal("embedded_check", settings.Database);
        Assert.Equal(server.Port, settings.Port);
        Assert.Equal("127.0.0.1", settings.Host);
    }

    [Fact]
    public async Task StartAsync_ExistingCluster_ReusesItsData()
    {
        await using var folder = new TemporaryFolder();
        await using (var first = await folder.StartAsync())
        {
            await QueryAsync<int>(first.ConnectionString, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (7); SELECT 1");
        }

        await using var second = await folder.StartAsync();

        Assert.Equal(7, await QueryAsync<int>(second.ConnectionString, "SELECT id FROM kept"));
    }

    [Fact]
    public async Task StartAsync_DataDirectoryAlreadyInUse_ThrowsEmbeddedPostgresException()
    {
        await using var folder = new TemporaryFolder();
        await using var server = await folder.StartAsync();

        var error = await Assert.ThrowsAsync<EmbeddedPostgresException>(() => folder.StartAsync());

        Assert.Contains("in use by another process", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await QueryAsync<int>(server.ConnectionString, "SELECT 1"));
    }

    [Fact]
    public async Task StartAsync_InvalidDatabaseName_ThrowsArgumentException()
    {
        await using var folder = new TemporaryFolder();

        await Assert.ThrowsAsync<ArgumentException>(() => folder.StartAsync("bad-name\"; DROP"));
    }

    [Fact]
    public async Task RestartAsync_Immediate_KeepsPortAndAcceptsQueriesAgain()
    {
        await using var folder = new TemporaryFolder();
        await using var server = await folder.StartAsync();
        var portBefore = server.Port;
        var connectionStringBefore = server.ConnectionString;

        await server.RestartAsync(immediate: true);

        Assert.Equal(portBefore, server.Port);
        Assert.Equal(connectionStringBefore, server.ConnectionString);
        Assert.Equal(1, await QueryAsync<int>(server.ConnectionString, "SELECT 1"));
    }

    [Fact]
    public async Task StopAsync_RunningServer_ConnectionsFailAndStoppingAgainIsHarmless()
    {
        await using var folder = new TemporaryFolder();
        var server = await folder.StartAsync();
        Assert.Equal(1, await QueryAsync<int>(server.ConnectionString, "SELECT 1"));

        await server.StopAsync();

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => QueryAsync<int>(server.ConnectionString, "SELECT 1"));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "postmaster.pid")));
        await server.StopAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public void FindBinDirectory_OnThisMachine_ReturnsFolderWithPgCtlAndInitdb()
    {
        var binDirectory = EmbeddedPostgres.FindBinDirectory();

        Assert.NotNull(binDirectory);
        Assert.True(File.Exists(Path.Combine(binDirectory, "pg_ctl")), $"no pg_ctl in {binDirectory}");
        Assert.True(File.Exists(Path.Combine(binDirectory, "initdb")), $"no initdb in {binDirectory}");
    }

    [Fact]
    public void DefaultDataDirectory_InsideTheRepository_IsUnderTheTrellisFolderNextToTheSolution()
    {
        var folder = EmbeddedPostgres.DefaultDataDirectory("some-name");

        var trellisFolder = Path.GetDirectoryName(folder)!;
        Assert.Equal("some-name", Path.GetFileName(folder));
        Assert.Equal(".trellis", Path.GetFileName(trellisFolder));
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(trellisFolder)!, "Trellis.slnx")));
    }

    // Unpooled, so a connection broken by a restart is never handed out again.
    private static async Task<T> QueryAsync<T>(string connectionString, string sql)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// A folder under .trellis holding the cluster and, next to it, its log and lock files; deleted afterwards.
    /// </summary>
    private sealed class TemporaryFolder : IAsyncDisposable
    {
        private readonly string _root = EmbeddedPostgres.DefaultDataDirectory("test-embedded-" + Guid.NewGuid().ToString("N")[..8]);

        public Task<EmbeddedPostgres> StartAsync(string database = "trellis") => EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions
        {
            DataDirectory = Path.Combine(_root, "pgdata"),
            Database = database,
            Settings = new Dictionary<string, string> { ["max_connections"] = "30", ["shared_buffers"] = "16MB" },
            StartTimeout = TimeSpan.FromSeconds(60),
        });

        // Runs after the test's server was disposed (declared later, disposed first), so nothing holds the files.
        public ValueTask DisposeAsync()
        {
            if (Directory.Exists(_root))
            {
                Directory.Delete(_root, recursive: true);
            }

            return ValueTask.CompletedTask;
        }
    }
}
