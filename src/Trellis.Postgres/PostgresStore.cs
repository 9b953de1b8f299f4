using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

/// <summary>
/// The PostgreSQL store: runs, steps and the queue in one schema, over one <see cref="NpgsqlDataSource"/>.
/// Its statements live in <see cref="PostgresSql"/>; this class is split by concern into
/// <c>PostgresStore.Runs.cs</c>, <c>.Queue.cs</c>, <c>.Checkpoints.cs</c> and <c>.Listener.cs</c>.
/// </summary>
public sealed partial class PostgresStore : IWorkflowStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource _listenerDataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgresSql _sql;
    private readonly ILogger _logger;
    private readonly TimeSpan _listenerCheckInterval;
    private readonly ConnectionFailures _failures;
    private bool _sharedPlansChecked;

    /// <summary>Creates the store from options and the environment (see <see cref="PostgresStoreOptions"/>).</summary>
    public PostgresStore(PostgresStoreOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Schema = SchemaName.Parse(options.Schema ?? options.FromEnvironment("TRELLIS_SCHEMA") ?? PostgresStoreOptions.DefaultSchema);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Trellis.Postgres");
        _sql = new PostgresSql(Schema);
        _listenerCheckInterval = options.ListenerCheckInterval > TimeSpan.Zero
            ? options.ListenerCheckInterval
            : throw new ArgumentException("PostgresStoreOptions.ListenerCheckInterval must be positive.", nameof(options));

        if (options.DataSource is { } shared)
        {
            _dataSource = shared;
            _listenerDataSource = shared;
            _ownsDataSource = false;
            _failures = new ConnectionFailures(
                new NpgsqlConnectionStringBuilder(shared.ConnectionString), "the NpgsqlDataSource given as PostgresStoreOptions.DataSource");
        }
        else
        {
            var (settings, setting) = ResolveSettings(options);
            _failures = new ConnectionFailures(settings, setting);
            _dataSource = Build(settings, loggerFactory, options.LogSqlCommands);
            // The listener holds its connection for good; its own unpooled source keeps it out of the pool's
            // count and names it in pg_stat_activity.
            _listenerDataSource = Build(
                new NpgsqlConnectionStringBuilder(settings.ConnectionString) { Pooling = false, ApplicationName = $"{settings.ApplicationName}:listener:{Schema.Name}" },
                loggerFactory,
                options.LogSqlCommands);
            _ownsDataSource = true;
        }

        var where = new NpgsqlConnectionStringBuilder(_dataSource.ConnectionString);
        Description = $"PostgreSQL {where.Host}:{where.Port}/{where.Database}, schema {Schema.Name}";
    }

    /// <summary>The schema holding Trellis's tables.</summary>
    public SchemaName Schema { get; }

    /// <inheritdoc/>
    public string Description { get; }

    /// <summary>
    /// The data source Trellis uses (owned or shared). The connections of one it owns run with
    /// <c>enable_seqscan = off</c> and <c>plan_cache_mode = force_generic_plan</c> (see <see cref="SessionSetup"/>):
    /// for your own whole-table or ad hoc queries through it, use <c>SET LOCAL enable_seqscan = on</c> and
    /// <c>SET LOCAL plan_cache_mode = auto</c> in their transaction. One it owns also knows only PostgreSQL's
    /// built-in types (it does not load the server's type catalog); for queries of your own on enums, extension
    /// or composite types, use a data source of your own.
    /// </summary>
    public NpgsqlDataSource DataSource => _dataSource;

    /// <inheritdoc/>
    public async Task MigrateAsync(CancellationToken cancellationToken = default) =>
        await MigrateAndReportAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Applies missing migrations and returns the versions applied by this call.</summary>
    public Task<IReadOnlyList<int>> MigrateAndReportAsync(CancellationToken cancellationToken = default) =>
        _failures.RunAsync(() => new Migrator(_dataSource, Schema).MigrateAsync(cancellationToken));

    /// <inheritdoc/>
    public async Task<int> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        var applied = await _failures.RunAsync(() => new Migrator(_dataSource, Schema).GetAppliedVersionAsync(cancellationToken)).ConfigureAwait(false);
        if (applied is null)
        {
            throw new TrellisException($"Schema '{Schema.Name}' has not been migrated. Start Trellis with MigrateOnStart, or run the migrations.");
        }

        if (applied < Migrator.LatestVersion)
        {
            throw new TrellisException($"Schema '{Schema.Name}' is at migration {applied}; this version of Trellis needs {Migrator.LatestVersion}.");
        }

        return applied.Value;
    }

    /// <summary>Disposes the data sources the store created; a shared one is left to its owner.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
            await _listenerDataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether an error from this store is worth retrying: Npgsql's own verdict, plus connection loss
    /// and the server shutting down or starting up (a restart), which Npgsql reports as not transient.
    /// </summary>
    public static bool IsTransient(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case PostgresException postgres:
                    return postgres.IsTransient
                        || postgres.SqlState.StartsWith("08", StringComparison.Ordinal) // connection exception
                        || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal); // admin/crash shutdown, cannot connect now
                case NpgsqlException npgsql when npgsql.IsTransient:
                    return true;
                case NpgsqlException { InnerException: null }:
                    return false;
                case IOException or SocketException or TimeoutException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>The connection settings, and the setting they came from (named in errors the user must fix).</summary>
    private static (NpgsqlConnectionStringBuilder Settings, string Setting) ResolveSettings(PostgresStoreOptions options)
    {
        var (connectionString, setting) =
            options.ConnectionString is { } given ? (given, "the connection string given to UsePostgres (PostgresStoreOptions.ConnectionString)")
            : options.FromEnvironment("TRELLIS_DATABASE_URL") is { } trellisUrl ? (trellisUrl, "TRELLIS_DATABASE_URL")
            : options.FromEnvironment("DATABASE_URL") is { } url ? (url, "DATABASE_URL")
            : throw new TrellisException(
                "No PostgreSQL connection is configured. Set TRELLIS_DATABASE_URL (or DATABASE_URL) to a postgres:// URL or a connection string, "
                + "pass one to UsePostgres(...), or, for development, start a private server with EmbeddedPostgres (package Trellis.Postgres.Embedded).");

        NpgsqlConnectionStringBuilder settings;
        try
        {
            settings = new NpgsqlConnectionStringBuilder(ConnectionStrings.Normalize(connectionString));
        }
        catch (ArgumentException ex)
        {
            throw new TrellisException($"The PostgreSQL connection string is not valid: {ex.Message}", ex);
        }

        // Npgsql's default of 100 is PostgreSQL's whole default max_connections; Trellis batches its writes
        // and needs few connections, so unless the connection string or options say otherwise it uses 20.
        var poolSizeInConnectionString = settings.ConnectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase);
        settings.MaxPoolSize = options.MaxPoolSize ?? EnvInt(options, "TRELLIS_MAX_POOL_SIZE") ?? (poolSizeInConnectionString ? settings.MaxPoolSize : PostgresStoreOptions.DefaultMaxPoolSize);
        settings.MinPoolSize = options.MinPoolSize ?? EnvInt(options, "TRELLIS_MIN_POOL_SIZE") ?? settings.MinPoolSize;
        if ((options.ConnectionTimeout?.TotalSeconds ?? EnvInt(options, "TRELLIS_CONNECTION_TIMEOUT")) is { } connectTimeout)
        {
            settings.Timeout = (int)Math.Ceiling((double)connectTimeout);
        }

        if ((options.CommandTimeout?.TotalSeconds ?? EnvInt(options, "TRELLIS_COMMAND_TIMEOUT")) is { } commandTimeout)
        {
            settings.CommandTimeout = (int)Math.Ceiling((double)commandTimeout);
        }

        if (settings.MinPoolSize > settings.MaxPoolSize)
        {
            throw new TrellisException($"The minimum pool size ({settings.MinPoolSize}) is larger than the maximum ({settings.MaxPoolSize}).");
        }

        // Statements run per step and per claim; preparing them saves the server a parse and plan each time.
        if (settings.MaxAutoPrepare == 0)
        {
            settings.MaxAutoPrepare = 64;
            settings.AutoPrepareMinUsages = 2;
        }

        // Trellis never changes session state on pooled connections (its LISTEN connection is not pooled),
        // so the reset Npgsql would send before reusing one is pure cost on every statement.
        if (!settings.ConnectionString.Contains("No Reset On Close", StringComparison.OrdinalIgnoreCase))
        {
            settings.NoResetOnClose = true;
        }

        settings.ApplicationName ??= "trellis";
        return (settings, setting);
    }

    /// <summary>
    /// Run on every connection Trellis opens. Every statement Trellis sends is built around an index (a primary
    /// key or a partial index), and its generic plan is checked by the tests; two settings keep PostgreSQL on those plans:
    /// <list type="bullet">
    /// <item><c>enable_seqscan = off</c>: on young tables, before autovacuum has gathered statistics, PostgreSQL
    /// takes them for nearly empty and plans sequential scans; prepared statements keep those plans while the
    /// table grows, until the first ANALYZE.</item>
    /// <item><c>plan_cache_mode = force_generic_plan</c>: a prepared statement is otherwise re-planned on every
    /// execution whenever PostgreSQL expects a plan made for the arguments to be cheaper, which it does for the
    /// statements that take arrays once a table has grown, and planning would then cost about as much as running
    /// them.</item>
    /// </list>
    /// </summary>
    internal const string SessionSetup =
        "SELECT set_config('enable_seqscan', 'off', false), set_config('plan_cache_mode', 'force_generic_plan', false)";

    private static NpgsqlDataSource Build(NpgsqlConnectionStringBuilder settings, ILoggerFactory? loggerFactory, bool logSqlCommands)
    {
        var builder = new NpgsqlDataSourceBuilder(settings.ConnectionString);
        // Trellis's statements use only built-in types (text, jsonb, integers, timestamps and their arrays). Left to
        // itself, Npgsql reads the server's type catalog on a data source's first connection: one more query and its
        // round trips on every engine start, once for the pool and once for the listener.
        builder.ConfigureTypeLoading(types => types.EnableTypeLoading(false));
        if (loggerFactory is not null)
        {
            builder.UseLoggerFactory(logSqlCommands ? loggerFactory : new QuietNpgsqlLoggerFactory(loggerFactory));
        }

        builder.UsePhysicalConnectionInitializer(
            connection =>
            {
                using var setup = new NpgsqlCommand(SessionSetup, connection);
                setup.ExecuteNonQuery();
            },
            async connection =>
            {
                await using var setup = new NpgsqlCommand(SessionSetup, connection);
                await setup.ExecuteNonQueryAsync().ConfigureAwait(false);
            });
        return builder.Build();
    }

    private static int? EnvInt(PostgresStoreOptions options, string name)
    {
        if (options.FromEnvironment(name) is not { } text)
        {
            return null;
        }

        return int.TryParse(text, out var value) && value >= 0
            ? value
            : throw new TrellisException($"Environment variable {name} must be a whole number of at least 0 (was '{text}').");
    }
}
