namespace Trellis.Maintenance;

/// <summary>
/// Work an engine with a worker does beside claiming and running, every <see cref="Interval"/>: putting back runs whose
/// worker was lost, recording steps that run long. A service that must run on one worker at a time across all
/// processes (cron, retention) says so with <see cref="RunsOnLeader"/>, and then runs only while this process holds
/// the leader lease.
/// </summary>
internal abstract class MaintenanceService
{
    /// <summary>The service's name, for logs.</summary>
    public abstract string Name { get; }

    /// <summary>How long to wait after one round before the next.</summary>
    public abstract TimeSpan Interval { get; }

    /// <summary>True for a service that must run on one worker at a time: it runs only on the holder of the leader lease.</summary>
    public virtual bool RunsOnLeader => false;

    /// <summary>One round. An error is logged, and the next round comes after <see cref="Interval"/> as usual.</summary>
    public abstract Task RunOnceAsync(CancellationToken cancellationToken);

    /// <summary>Waits for the next round: <see cref="Interval"/>, unless the service knows better (a due time, a wake-up).</summary>
    public virtual Task WaitForNextRoundAsync(TimeProvider time, CancellationToken cancellationToken) =>
        Task.Delay(Interval, time, cancellationToken);
}
