using Npgsql;

namespace Trellis.Postgres;

/// <summary>
/// Where and how Trellis stores its data in PostgreSQL. Unset values come from environment variables
/// (when <see cref="ReadEnvironment"/> is true), then from defaults:
/// <list type="table">
/// <item><term><see cref="ConnectionString"/></term><description><c>TRELLIS_DATABASE_URL</c>, then <c>DATABASE_URL</c>: a <c>postgres://user:pass@host:port/db</c> URL or a key=value connection string.</description></item>
/// <item><term><see cref="Schema"/></term><description><c>TRELLIS_SCHEMA</c>, default <c>trellis</c>.</description></item>
/// <item><term><see cref="MaxPoolSize"/></term><description><c>TRELLIS_MAX_POOL_SIZE</c>, or <c>Maximum Pool Size</c> in the connection string; default 20.</description></item>
/// <item><term><see cref="MinPoolSize"/></term><description><c>TRELLIS_MIN_POOL_SIZE</c>, default 0.</description></item>
/// <item><term><see cref="ConnectionTimeout"/></term><description><c>TRELLIS_CONNECTION_TIMEOUT</c> (seconds), default 15 s.</description></item>
/// <item><term><see cref="CommandTimeout"/></term><description><c>TRELLIS_COMMAND_TIMEOUT</c> (seconds), default 30 s.</description></item>
/// </list>
/// </summary>
public sealed class PostgresStoreOptions
{
    /// <summary>The schema used when none is configured: <c>trellis</c>.</summary>
    public const string DefaultSchema = "trellis";

    /// <summary>Connections in the pool unless configured: Trellis batches its writes, so a few go a long way.</summary>
    public const int DefaultMaxPoolSize = 20;

    /// <summary>A URL (<c>postgres://…</c>) or key=value connection string. Ignored when <see cref="DataSource"/> is set.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// A data source shared with the application. Trellis uses it and never disposes it; pool settings
    /// are then the data source's own, and so are session settings: the <c>enable_seqscan = off</c> and
    /// <c>plan_cache_mode = force_generic_plan</c> Trellis sets on its own connections (see docs/architecture.md)
    /// are not applied to a shared data source.
    /// </summary>
    public NpgsqlDataSource? DataSource { get; set; }

    /// <summary>The schema holding Trellis's tables. Several schemas can coexist in one database.</summary>
    public string? Schema { get; set; }

    /// <summary>The most connections in the pool. Default: the connection string's, else 20.</summary>
    public int? MaxPoolSize { get; set; }

    /// <summary>Connections the pool keeps open when idle. Default 0.</summary>
    public int? MinPoolSize { get; set; }

    /// <summary>How long opening a connection may take. Default 15 s.</summary>
    public TimeSpan? ConnectionTimeout { get; set; }

    /// <summary>How long one statement may take. Default 30 s.</summary>
    public TimeSpan? CommandTimeout { get; set; }

    /// <summary>
    /// How long the notification listener may sit idle before it checks that its connection still
    /// answers (a connection can die silently, e.g. behind a firewall). Default 10 s.
    /// </summary>
    public TimeSpan ListenerCheckInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Let Npgsql log what it logs below warnings through the application's logger factory: every command it executes,
    /// with its SQL, at Information. Off by default, when Npgsql logs only its warnings and errors. For a shared
    /// <see cref="DataSource"/>, its own logging applies.
    /// </summary>
    public bool LogSqlCommands { get; set; }

    /// <summary>Fill unset values from the environment variables listed above. Default true.</summary>
    public bool ReadEnvironment { get; set; } = true;

    /// <summary>Where environment variables are read from. Default: the process environment.</summary>
    public Func<string, string?> EnvironmentReader { get; set; } = Environment.GetEnvironmentVariable;

    internal string? FromEnvironment(string name) => ReadEnvironment && EnvironmentReader(name) is { Length: > 0 } value && !string.IsNullOrWhiteSpace(value) ? value : null;
}
