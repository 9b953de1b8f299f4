using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Trellis.Hosting;

/// <summary>
/// Runs the Trellis engine for the host's lifetime: migrates the store, listens for notifications and
/// runs the worker; on shutdown, stops claiming and finishes or releases in-flight runs within
/// <see cref="WorkerOptions.ShutdownTimeout"/> (the host's own shutdown timeout should be longer).
/// </summary>
internal sealed partial class TrellisHostedService(TrellisEngine engine, ILogger<TrellisHostedService> logger) : BackgroundService
{
    private static readonly TimeSpan MaxStartDelay = TimeSpan.FromSeconds(30);

    private bool _started;

    /// <summary>
    /// Starts the engine before the host finishes starting, so that the schema is migrated and the client
    /// usable once <c>host.StartAsync()</c> returns. If the database cannot be reached yet, the host
    /// starts anyway and the engine keeps trying in the background.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        LogStarting(logger, engine.Store.Description, engine.Worker?.WorkerId ?? "(none: client only)");
        try
        {
            await engine.StartAsync(cancellationToken).ConfigureAwait(false);
            _started = true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStartFailed(logger, ex, TimeSpan.FromSeconds(1));
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!_started && !stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
            try
            {
                await engine.StartAsync(stoppingToken).ConfigureAwait(false);
                _started = true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The database may not be up yet (a fresh deploy, a restart): keep trying instead of stopping the host.
                delay = delay * 2 < MaxStartDelay ? delay * 2 : MaxStartDelay;
                LogStartFailed(logger, ex, delay);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await engine.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(2000, LogLevel.Information, "Trellis starting on {Store}; worker {WorkerId}")]
    private static partial void LogStarting(ILogger logger, string store, string workerId);

    [LoggerMessage(2001, LogLevel.Error, "Trellis could not start; trying again in {Delay}")]
    private static partial void LogStartFailed(ILogger logger, Exception exception, TimeSpan delay);
}
