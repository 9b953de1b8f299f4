using Trellis.Postgres;
using Trellis.Postgres.Embedded;

namespace Trellis.Testing;

/// <summary>
/// The PostgreSQL server of the test run: the one in TRELLIS_DATABASE_URL / DATABASE_URL when set,
/// otherwise a private server started from the installed binaries (data in .trellis/test-postgres-&lt;assembly&gt;),
/// which stops when the test process exits.
/// </summary>
public static class TestDatabase
{
    private static readonly Lazy<Task<string>> Server = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    public static Task<string> GetConnectionStringAsync() => Server.Value;

    private static async Task<string> StartAsync()
    {
        if (ConnectionStrings.FromEnvironment() is { } configured)
        {
            return ConnectionStrings.Normalize(configured);
        }

        var server = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions
        {
            // One folder per test assembly: test projects run in parallel processes, one server each.
            DataDirectory = EmbeddedPostgres.DefaultDataDirectory($"test-postgres-{TestProjectName()}"),
            Database = "trellis_tests",
            Settings = new Dictionary<string, string>
            {
                ["max_connections"] = "500",
                ["shared_buffers"] = "256MB",
            },
        });
        return server.ConnectionString;
    }

    /// <summary>The test project this process runs: the folder its output's <c>bin</c> is in.</summary>
    private static string TestProjectName()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder?.Parent is { } parent; folder = parent)
        {
            if (folder.Name == "bin")
            {
                return parent.Name;
            }
        }

        return $"process-{Environment.ProcessId}";
    }
}
