namespace Trellis.Postgres.Tests;

public sealed class SchemaTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private PostgresStore Store(string schema) =>
        new(new PostgresStoreOptions { ConnectionString = database.ConnectionString, Schema = schema, ReadEnvironment = false, MaxPoolSize = 3 });

    [Fact]
    public async Task MigrateAsync_TenConcurrentStarters_EachMigrationAppliedExactlyOnce()
    {
        var schema = $"{database.Schema.Name}_m";
        var stores = Enumerable.Range(0, 10).Select(_ => Store(schema)).ToArray();
        try
        {
            using var start = new ManualResetEventSlim();
            var migrations = stores.Select(s => Task.Run(async () =>
            {
                start.Wait();
                return await s.MigrateAndReportAsync();
            })).ToArray();
            start.Set();
            var applied = await Task.WhenAll(migrations);

            var all = applied.SelectMany(a => a).ToList();
            Assert.Equal(Migrator.All.Select(m => m.Version), all.Order());
            Assert.Equal(1, applied.Count(a => a.Count > 0));
            Assert.Equal(Migrator.All.Count, await database.ScalarAsync<long>($"SELECT count(*) FROM \"{schema}\".schema_migrations"));
            await stores[0].CheckHealthAsync();
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }

            await database.ScalarAsync<int>($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        }
    }

    [Fact]
    public async Task Runs_FinishedWithoutCompletedAtOrCompletedAtOnALiveRun_AreRefused()
    {
        // Live and finished runs are indexed and listed apart by completed_at (migration 003); the schema keeps it
        // in step with the status.
        // The class's own schema: the other tests here migrate schemas of their own.
        await using (var store = database.NewStore())
        {
            await store.MigrateAsync();
        }

        const string insert = """
            INSERT INTO {schema}.runs (id, workflow_name, workflow_version, queue, status, input, max_attempts, completed_at)
            VALUES ($1, 'Wf', 1, 'default', $2, '{}', 1, $3)
            """;
        var finishedWithout = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => database.ScalarAsync<int>(insert, "a", "completed", DBNull.Value));
        var liveWith = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => database.ScalarAsync<int>(insert, "b", "pending", DateTimeOffset.UtcNow));

        Assert.Equal("runs_finished_have_completed_at", finishedWithout.ConstraintName);
        Assert.Equal("runs_finished_have_completed_at", liveWith.ConstraintName);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs"));
    }

    [Fact]
    public async Task MigrateAsync_AppliedMigrationWasChanged_IsRefused()
    {
        var schema = $"{database.Schema.Name}_c";
        await using var store = Store(schema);
        try
        {
            await store.MigrateAsync();
            await database.ScalarAsync<int>($"UPDATE \"{schema}\".schema_migrations SET checksum = 'edited' WHERE version = 1");

            var error = await Assert.ThrowsAsync<TrellisException>(() => store.MigrateAsync());
            Assert.Contains("Migration 1", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await database.ScalarAsync<int>($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        }
    }

    [Fact]
    public async Task CheckHealthAsync_SchemaNeverMigrated_ReportsIt()
    {
        await using var store = Store($"{database.Schema.Name}_none");
        var error = await Assert.ThrowsAsync<TrellisException>(() => store.CheckHealthAsync());
        Assert.Contains("has not been migrated", error.Message, StringComparison.Ordinal);
    }

    private sealed class Hello : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => context.StepAsync("greet", _ => Task.FromResult($"hello {input}"));
    }

    [Fact]
    public async Task TwoSchemas_InOneDatabase_KeepTheirRunsApart()
    {
        var otherSchema = $"{database.Schema.Name}_b";
        try
        {
            await using var first = await TestEngines.Builder(database, output, "shared").AddWorkflow<Hello>().StartAsync();
            await using var second = await TrellisEngine.Create()
                .UsePostgres(database.ConnectionString, pg => (pg.Schema, pg.ReadEnvironment) = (otherSchema, false))
                .AddWorkflow<Hello>()
                .Configure(o => o.DefaultQueue = "shared")
                .StartAsync();

            var one = await first.Client.StartAsync<Hello>("one");
            var two = await second.Client.StartAsync<Hello>("two");
            Assert.Equal("hello one", await one.GetResultAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal("hello two", await two.GetResultAsync(TimeSpan.FromSeconds(30)));

            Assert.Null(await first.Client.GetRunAsync(two.RunId));
            Assert.Null(await second.Client.GetRunAsync(one.RunId));
            Assert.Equal(1, await database.ScalarAsync<long>($"SELECT count(*) FROM \"{otherSchema}\".runs"));
        }
        finally
        {
            await database.ScalarAsync<int>($"DROP SCHEMA IF EXISTS \"{otherSchema}\" CASCADE");
        }
    }

    [Theory]
    [InlineData("postgres://alice:s%40cret@db.example.com:6543/orders?sslmode=require", "db.example.com", 6543, "orders", "alice", "s@cret")]
    [InlineData("postgresql://bob@localhost/trellis", "localhost", 5432, "trellis", "bob", null)]
    [InlineData("Host=10.0.0.5;Port=5433;Database=wf;Username=carol;Password=pw", "10.0.0.5", 5433, "wf", "carol", "pw")]
    public void Normalize_UrlOrKeyValueConnectionString_GivesNpgsqlSettings(string input, string host, int port, string databaseName, string user, string? password)
    {
        var settings = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionStrings.Normalize(input));

        Assert.Equal((host, port, databaseName, user, password), (settings.Host, settings.Port, settings.Database, settings.Username, settings.Password));
    }

    [Fact]
    public void Normalize_UrlWithUnknownParameter_ThrowsClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => ConnectionStrings.Normalize("postgres://u@h/db?frobnicate=1"));
        Assert.Contains("frobnicate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PostgresStore_NoConnectionConfigured_SaysWhatToSet()
    {
        var error = Assert.Throws<TrellisException>(() => new PostgresStore(new PostgresStoreOptions { ReadEnvironment = false }));
        Assert.Contains("TRELLIS_DATABASE_URL", error.Message, StringComparison.Ordinal);
    }
}
