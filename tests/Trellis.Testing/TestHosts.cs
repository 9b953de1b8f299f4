using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Trellis.Testing;

/// <summary>Generic hosts for tests: the defaults of a real application, logging to the test output.</summary>
public static class TestHosts
{
    /// <summary>How long a test lets a host take to stop before it gives up on it.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    public static HostApplicationBuilder Builder(ITestOutputHelper output)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new XunitLoggerProvider(output));
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        return builder;
    }

    /// <summary>The test database and schema, quick polling and a queue of the test's own.</summary>
    public static TrellisBuilder UseTestDatabase(this TrellisBuilder trellis, PostgresFixture database) =>
        trellis
            .UsePostgres(database.ConnectionString, pg =>
            {
                pg.Schema = database.Schema.Name;
                pg.ReadEnvironment = false;
            })
            .Configure(o =>
            {
                o.DefaultQueue = $"q{Guid.NewGuid():N}"[..12];
                o.ResultPollInterval = TimeSpan.FromMilliseconds(250);
            })
            .ConfigureWorker(w =>
            {
                w.PollInterval = TimeSpan.FromMilliseconds(100);
                w.ShutdownTimeout = TimeSpan.FromSeconds(5);
            });

    /// <summary>
    /// Waits until the "trellis" health check is healthy, i.e. the hosted service has migrated the store.
    /// <c>IHost.StartAsync</c> returns before that happens (see <c>HostStartTests.StartAsync_Returned_StoreIsMigratedAndClientUsable</c>),
    /// so tests about something else wait for it here.
    /// </summary>
    public static async Task WaitUntilMigratedAsync(this IHost host)
    {
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await Eventually.HoldsAsync(
            // Degraded is migrated too: a host without a worker, in a schema no worker beats in, is degraded.
            async () => (await health.CheckHealthAsync(r => r.Name == "trellis")).Status != HealthStatus.Unhealthy,
            "the trellis health check is healthy or degraded");
    }

    /// <summary>
    /// Builds the host for a test that ends with <c>await using</c>: the host is stopped (within <see cref="StopTimeout"/>)
    /// if it was started, then disposed.
    /// </summary>
    public static TestHost BuildTestHost(this HostApplicationBuilder builder) => new(builder.Build());

    /// <summary>Stops the host within <see cref="StopTimeout"/>, then disposes it.</summary>
    public static async Task StopAndDisposeAsync(this IHost host)
    {
        try
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            await host.StopAsync(timeout.Token);
        }
        finally
        {
            await host.DisposeOnlyAsync();
        }
    }

    /// <summary>Disposes a host that did not start (<c>IHost.StopAsync</c> throws for those).</summary>
    public static async Task DisposeOnlyAsync(this IHost host)
    {
        if (host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync();
        }
        else
        {
            host.Dispose();
        }
    }
}

/// <summary>A host that stops (if it started) and is disposed at the end of the test's <c>await using</c>.</summary>
public sealed class TestHost(IHost host) : IHost, IAsyncDisposable
{
    private bool _started;

    public IServiceProvider Services => host.Services;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await host.StartAsync(cancellationToken);
        _started = true; // a host that failed to start is only disposed: IHost.StopAsync throws for those
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => host.StopAsync(cancellationToken);

    public void Dispose() => host.Dispose();

    public async ValueTask DisposeAsync()
    {
        if (_started)
        {
            await host.StopAndDisposeAsync();
        }
        else
        {
            await host.DisposeOnlyAsync();
        }
    }
}
