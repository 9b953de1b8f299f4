using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trellis;
using Trellis.Hosting;
using Trellis.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>AddTrellis(...)</c>: Trellis in a host's service collection.</summary>
public static class TrellisServiceCollectionExtensions
{
    /// <summary>
    /// Registers Trellis: the engine, its <see cref="TrellisClient"/> and store, a hosted service that
    /// migrates the store and runs the worker, and a health check named "trellis" for the database.
    /// Options can also be changed with <c>services.Configure&lt;TrellisOptions&gt;(...)</c> (or bound from configuration).
    /// </summary>
    /// <example>
    /// <code>
    /// services.AddTrellis(trellis => trellis
    ///     .UsePostgres(connectionString, pg => pg.Schema = "trellis")
    ///     .AddWorkflow&lt;MangaToVideo&gt;()
    ///     .ConfigureWorker(w => w.MaxConcurrentRuns = 16));
    /// </code>
    /// </example>
    public static IServiceCollection AddTrellis(this IServiceCollection services, Action<TrellisBuilder> configure) =>
        AddTrellis(services, configuration: null, configure);

    /// <summary>
    /// Registers Trellis with its settings bound from a configuration section first (<see cref="TrellisBuilder.UseConfiguration"/>):
    /// every <see cref="TrellisOptions"/> and <see cref="WorkerOptions"/> setting, and the store's from its subsection
    /// (<c>Trellis:Postgres:Schema</c>, <c>Trellis:Postgres:ConnectionString</c>, …). What <paramref name="configure"/> sets wins.
    /// </summary>
    /// <example>
    /// <code>
    /// services.AddTrellis(builder.Configuration.GetSection("Trellis"), trellis => trellis
    ///     .UsePostgres()
    ///     .AddWorkflow&lt;MangaToVideo&gt;());
    /// </code>
    /// </example>
    public static IServiceCollection AddTrellis(this IServiceCollection services, IConfiguration? configuration, Action<TrellisBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        if (services.Any(d => d.ServiceType == typeof(TrellisEngine)))
        {
            throw new InvalidOperationException("AddTrellis has already been called on this service collection.");
        }

        var builder = new TrellisBuilder();
        if (configuration is not null)
        {
            builder.UseConfiguration(configuration);
        }

        configure(builder);

        services.AddOptions();
        services.AddSingleton<IOptionsFactory<TrellisOptions>>(provider => new TrellisOptionsFactory(
            builder.Options,
            provider.GetServices<IConfigureOptions<TrellisOptions>>(),
            provider.GetServices<IPostConfigureOptions<TrellisOptions>>(),
            provider.GetServices<IValidateOptions<TrellisOptions>>()));

        services.AddSingleton(provider =>
        {
            _ = provider.GetRequiredService<IOptions<TrellisOptions>>().Value; // applies Configure<TrellisOptions> to builder.Options
            if (provider.GetService<ILoggerFactory>() is { } loggerFactory)
            {
                builder.UseLoggerFactory(loggerFactory);
            }

            if (provider.GetService<TimeProvider>() is { } time)
            {
                builder.UseTimeProvider(time);
            }

            return builder.Build(provider);
        });
        services.AddSingleton(provider => provider.GetRequiredService<TrellisEngine>().Client);
        services.AddSingleton<IWorkflowStore>(provider => provider.GetRequiredService<TrellisEngine>().Store);
        services.AddSingleton<IHostedService, TrellisHostedService>();
        services.AddHealthChecks().AddCheck<TrellisHealthCheck>("trellis", HealthStatus.Unhealthy, ["trellis", "database"]);
        return services;
    }
}
