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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarting(logger, engine.Store.Description, engine.Worker?.WorkerId ?? "(none: client only)");
        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await engine.StartAsync(stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && ex is not ArgumentException)
            {
                // The database may not be up yet (a fresh deploy, a restart): keep trying instead of stopping the host.
                LogStartFailed(logger, ex, delay);
                await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
                delay = delay * 2 < MaxStartDelay ? delay * 2 : MaxStartDelay;
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
