using Npgsql;
using Trellis.Postgres;

namespace Trellis;

public static class PostgresTrellisBuilderExtensions
{
    /// <summary>
    /// Stores runs and steps in PostgreSQL. Without a connection string, <c>TRELLIS_DATABASE_URL</c>
    /// or <c>DATABASE_URL</c> is used (see <see cref="PostgresStoreOptions"/>).
    /// </summary>
    public static TrellisBuilder UsePostgres(this TrellisBuilder builder, string? connectionString = null, Action<PostgresStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new PostgresStoreOptions { ConnectionString = connectionString };
        configure?.Invoke(options);
        return builder.UseStore(context => new PostgresStore(options, context.LoggerFactory), PostgresStore.IsTransient);
    }

    /// <summary>Stores runs and steps through a data source the application owns (Trellis never disposes it).</summary>
    public static TrellisBuilder UsePostgres(this TrellisBuilder builder, NpgsqlDataSource dataSource, Action<PostgresStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dataSource);
        var options = new PostgresStoreOptions { DataSource = dataSource };
        configure?.Invoke(options);
        return builder.UseStore(context => new PostgresStore(options, context.LoggerFactory), PostgresStore.IsTransient);
    }
}
