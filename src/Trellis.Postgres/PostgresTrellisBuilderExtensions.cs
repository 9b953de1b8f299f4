using Microsoft.Extensions.Configuration;
using Npgsql;
using Trellis.Postgres;

namespace Trellis;

/// <summary><c>UsePostgres(...)</c> on a <see cref="TrellisBuilder"/>.</summary>
public static class PostgresTrellisBuilderExtensions
{
    /// <summary>
    /// Stores runs and steps in PostgreSQL. Without a connection string, <c>TRELLIS_DATABASE_URL</c>
    /// or <c>DATABASE_URL</c> is used (see <see cref="PostgresStoreOptions"/>). With a configuration section
    /// (<see cref="TrellisBuilder.UseConfiguration"/>), its <c>Postgres</c> subsection is bound first; the connection string and
    /// <paramref name="configure"/> given here win over it.
    /// </summary>
    public static TrellisBuilder UsePostgres(this TrellisBuilder builder, string? connectionString = null, Action<PostgresStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStore(
            context =>
            {
                var options = new PostgresStoreOptions();
                context.Configuration?.GetSection("Postgres").Bind(options);
                if (connectionString is not null)
                {
                    options.ConnectionString = connectionString;
                }

                configure?.Invoke(options);
                return new PostgresStore(options, context.LoggerFactory);
            },
            PostgresStore.IsTransient);
    }

    /// <summary>Stores runs and steps through a data source the application owns (Trellis never disposes it).</summary>
    public static TrellisBuilder UsePostgres(this TrellisBuilder builder, NpgsqlDataSource dataSource, Action<PostgresStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dataSource);
        return builder.UseStore(
            context =>
            {
                var options = new PostgresStoreOptions();
                context.Configuration?.GetSection("Postgres").Bind(options);
                options.DataSource = dataSource;
                configure?.Invoke(options);
                return new PostgresStore(options, context.LoggerFactory);
            },
            PostgresStore.IsTransient);
    }
}
