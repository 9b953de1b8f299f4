using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Execution;
using Trellis.Storage;

namespace Trellis.Maintenance;

/// <summary>
/// This process's claim to be the one worker that runs the services marked <see cref="MaintenanceService.RunsOnLeader"/>:
/// a row of the store's leader leases, taken when free or run out, renewed three times per lease, given up on stop.
/// <see cref="IsHeld"/> is judged on this process's own monotonic clock from when the last renewal was sent (as a run's
/// hold is, <see cref="RunHold"/>), so a process that was paused past its lease does not act as the leader before a
/// renewal confirms it again.
/// </summary>
internal sealed class LeaderLease
{
    /// <summary>The lease the maintenance services share.</summary>
    public const string MaintenanceLeaseName = "maintenance";

    private readonly ILeaderLeases _store;
    private readonly TimeSpan _duration;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private RunHold? _hold;

    public LeaderLease(ILeaderLeases store, string name, string workerId, TimeSpan duration, TimeProvider time, ILogger logger)
    {
        _store = store;
        Name = name;
        // A worker id may be reused by a restarted process (or by mistake by two at once): the holder is this process.
        Holder = $"{workerId}#{Guid.NewGuid().ToString("N")[..8]}";
        _duration = duration;
        _time = time;
        _logger = logger;
    }

    public string Name { get; }

    /// <summary>Who holds it, as written in <c>leader_leases.holder</c>: the worker id and this process's instance.</summary>
    public string Holder { get; }

    /// <summary>How often the lease is taken or renewed.</summary>
    public TimeSpan RenewInterval => _duration / 3;

    /// <summary>True while the store confirmed this process's lease less than a lease duration ago.</summary>
    public bool IsHeld => Volatile.Read(ref _hold) is { IsStale: false };

    /// <summary>Takes the lease, or renews it. A failure leaves the hold to run out on its own time.</summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        var sentAt = _time.GetTimestamp();
        var held = await _store.TryHoldLeaderLeaseAsync(Name, Holder, _duration, cancellationToken).ConfigureAwait(false);
        var hold = Volatile.Read(ref _hold);
        if (held)
        {
            if (hold is null)
            {
                _logger.LeaderLeaseTaken(Name, Holder);
                Volatile.Write(ref _hold, new RunHold(_time, _duration, sentAt));
            }
            else
            {
                hold.Confirm(sentAt);
            }
        }
        else if (hold is not null)
        {
            _logger.LeaderLeaseLost(Name, Holder);
            Volatile.Write(ref _hold, null);
        }
    }

    /// <summary>Gives the lease up, if this process holds it, so that another worker takes it at once.</summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _hold, null) is not null)
        {
            await _store.ReleaseLeaderLeaseAsync(Name, Holder, cancellationToken).ConfigureAwait(false);
        }
    }
}
