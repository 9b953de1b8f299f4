using Microsoft.Extensions.Diagnostics.HealthChecks;
using Trellis.Storage;

namespace Trellis.Hosting;

/// <summary>
/// Healthy when the engine has started, its store answers, migrated, and some worker is live (degraded with none: runs
/// would wait); reports the live workers and this engine's load.
/// </summary>
internal sealed class TrellisHealthCheck(IWorkflowStore store, TrellisEngine engine) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["store"] = store.Description,
            ["worker"] = engine.Worker?.WorkerId ?? "none",
            ["runs_in_flight"] = engine.Worker?.InFlightCount ?? 0,
        };
        if (!engine.IsRunning)
        {
            // Still migrating, waiting for the database, or stopped: a load balancer must not send work yet.
            return new HealthCheckResult(context.Registration.FailureStatus, "The Trellis engine is not running (starting, or stopped).", null, data);
        }

        try
        {
            data["schema_version"] = await store.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
            var within = engine.Options.Worker.WorkerHeartbeatInterval * 3;
            var workers = await store.GetLiveWorkersAsync(within, cancellationToken).ConfigureAwait(false);
            data["live_workers"] = workers
                .Select(w => new { id = w.WorkerId, heartbeat_at = w.HeartbeatAt, slots = w.Slots, runs_in_flight = w.RunsInFlight, queues = w.Queues })
                .ToList();
            return workers.Count > 0
                ? HealthCheckResult.Healthy("The Trellis store is reachable and migrated.", data)
                : HealthCheckResult.Degraded(
                    $"The Trellis store is reachable and migrated, but no worker has beaten in the last {within.TotalSeconds:0} s: runs wait until one starts.", null, data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The Trellis store is not usable: {ex.Message}", ex, data);
        }
    }
}
