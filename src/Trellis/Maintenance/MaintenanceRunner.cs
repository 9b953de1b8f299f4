using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;

namespace Trellis.Maintenance;

/// <summary>
/// Runs each maintenance service in a loop of its own, from the engine's start to its stop; and, when some service
/// must run on one worker at a time, keeps trying to hold the leader lease, releasing it on stop so that another
/// worker takes over at once.
/// </summary>
internal sealed class MaintenanceRunner(IReadOnlyList<MaintenanceService> services, LeaderLease leader, TimeProvider time, ILogger logger) : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

    public IReadOnlyList<MaintenanceService> Services => services;

    public LeaderLease Leader => leader;

    public void Start()
    {
        var token = _stop.Token;
        if (services.Any(s => s.RunsOnLeader))
        {
            _loops.Add(Task.Run(() => LoopAsync("leader lease", leader.RenewAsync, t => Task.Delay(leader.RenewInterval, time, t), token), CancellationToken.None));
        }

        foreach (var service in services)
        {
            _loops.Add(Task.Run(
                () => LoopAsync(
                    service.Name,
                    t => !service.RunsOnLeader || leader.IsHeld ? service.RunOnceAsync(t) : Task.CompletedTask,
                    t => service.WaitForNextRoundAsync(time, t),
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

    public void Dispose() => _stop.Dispose();

    private async Task LoopAsync(string name, Func<CancellationToken, Task> round, Func<CancellationToken, Task> waitForNext, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                await round(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
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
