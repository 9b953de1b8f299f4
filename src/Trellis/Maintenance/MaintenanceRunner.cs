using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;

namespace Trellis.Maintenance;

/// <summary>
/// Runs each maintenance service in a loop of its own, from the engine's start to its stop; and, when some service
/// must run on one worker at a time, keeps trying to hold the leader lease, releasing it on stop so that another
/// worker takes over at once.
/// </summary>
internal sealed class MaintenanceRunner(IReadOnlyList<MaintenanceService> services, LeaderLease leader, TimeProvider time, ILogger logger, StoreOutage? outage = null) : IDisposable
{
    /// <summary>Longest pause of a loop during an outage, before it tries again on its own.</summary>
    private static readonly TimeSpan OutagePause = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

    public IReadOnlyList<MaintenanceService> Services => services;

    public LeaderLease Leader => leader;

    /// <summary>
    /// Runs one round of each service that runs on every worker, before the engine's worker takes its first run (so
    /// the first claim finds the runs that lease recovery and the timers made ready), then starts every loop.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var service in services.Where(s => !s.RunsOnLeader))
        {
            try
            {
                await service.RunOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                logger.MaintenanceFailed(ex, service.Name); // the loop tries again after its interval
            }
        }

        var token = _stop.Token;
        if (services.Any(s => s.RunsOnLeader))
        {
            _loops.Add(Task.Run(() => LoopAsync("leader lease", leader.RenewAsync, t => Task.Delay(leader.RenewInterval, time, t), waitFirst: false, token), CancellationToken.None));
        }

        foreach (var service in services)
        {
            _loops.Add(Task.Run(
                () => LoopAsync(
                    service.Name,
                    t => !service.RunsOnLeader || leader.IsHeld ? service.RunOnceAsync(t) : Task.CompletedTask,
                    t => service.WaitForNextRoundAsync(time, t),
                    waitFirst: !service.RunsOnLeader,
                    token),
                CancellationToken.None));
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        try
        {
            await leader.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // It runs out on its own: another worker takes it a lease duration later.
            logger.MaintenanceFailed(ex, "leader lease release");
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        foreach (var service in services.OfType<IDisposable>())
        {
            service.Dispose();
        }
    }

    private async Task LoopAsync(string name, Func<CancellationToken, Task> round, Func<CancellationToken, Task> waitForNext, bool waitFirst, CancellationToken token)
    {
        var skip = waitFirst;
        while (!token.IsCancellationRequested)
        {
            try
            {
                if (!skip)
                {
                    await round(token).ConfigureAwait(false);
                }

                skip = false;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                if (outage?.Absorb(ex, $"maintenance ({name})") == true)
                {
                    // No round until the database is back (or a while has passed): an outage is no reason to hammer it.
                    try
                    {
                        await outage.WhenUpAsync(OutagePause, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    continue;
                }

                logger.MaintenanceFailed(ex, name);
            }

            try
            {
                await waitForNext(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }
}
