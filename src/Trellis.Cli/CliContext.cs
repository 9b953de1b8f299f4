using System.CommandLine;
using Spectre.Console;
using Trellis.Postgres;
using Trellis.Postgres.Embedded;

namespace Trellis.Cli;

/// <summary>
/// What every command shares: where the database is (--database-url, else TRELLIS_DATABASE_URL or DATABASE_URL, else the
/// embedded default: a private PostgreSQL in .trellis/demo-postgres, the demo's), the schema, and the output form.
/// </summary>
internal sealed class CliContext : IAsyncDisposable
{
    public static readonly Option<string?> DatabaseUrl = new("--database-url")
    {
        Description = "PostgreSQL URL or connection string. Default: TRELLIS_DATABASE_URL, DATABASE_URL, else a private PostgreSQL in .trellis/demo-postgres.",
        Recursive = true,
    };

    public static readonly Option<string?> Schema = new("--schema") { Description = "Trellis's schema. Default: TRELLIS_SCHEMA, else \"trellis\".", Recursive = true };

    public static readonly Option<bool> Json = new("--json") { Description = "Write JSON instead of tables, for scripts.", Recursive = true };

    private EmbeddedPostgres? _embedded;

    private CliContext(ParseResult parse, string connectionString, EmbeddedPostgres? embedded)
    {
        ConnectionString = connectionString;
        // --schema, else TRELLIS_SCHEMA; null leaves the store's default.
        SchemaName = parse.GetValue(Schema) ?? (Environment.GetEnvironmentVariable("TRELLIS_SCHEMA") is { Length: > 0 } schema ? schema : null);
        AsJson = parse.GetValue(Json);
        _embedded = embedded;
    }

    public string ConnectionString { get; }

    public string? SchemaName { get; }

    public bool AsJson { get; }

    /// <summary>True when the database is the private one this command started.</summary>
    public bool Embedded => _embedded is not null;

    public static async Task<CliContext> OpenAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var url = parse.GetValue(DatabaseUrl) ?? ConnectionStrings.FromEnvironment();
        if (url is not null)
        {
            return new CliContext(parse, url, null);
        }

        if (!parse.GetValue(Json))
        {
            AnsiConsole.MarkupLine("[grey]No TRELLIS_DATABASE_URL set: using the private PostgreSQL in .trellis/demo-postgres (the demo's).[/]");
        }

        var server = await EmbeddedPostgres.StartAsync(
            new EmbeddedPostgresOptions { DataDirectory = EmbeddedPostgres.DefaultDataDirectory("demo-postgres"), Database = "trellis_demo" }, cancellationToken);
        return new CliContext(parse, server.ConnectionString, server);
    }

    /// <summary>A Trellis builder on this database and schema, reading nothing else from the environment.</summary>
    public TrellisBuilder Trellis() => UseDatabase(TrellisEngine.Create());

    /// <summary>Points <paramref name="builder"/> at this database and schema (for a host's <c>AddTrellis</c> too).</summary>
    public TrellisBuilder UseDatabase(TrellisBuilder builder) => builder.UsePostgres(ConnectionString, pg =>
    {
        pg.Schema = SchemaName;
        pg.ReadEnvironment = false;
    });

    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null)
        {
            await _embedded.DisposeAsync();
            _embedded = null;
        }
    }
}
