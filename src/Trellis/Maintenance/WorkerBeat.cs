using Trellis.Storage;

namespace Trellis.Maintenance;

/// <summary>Records this worker in the store's <c>workers</c> table every <see cref="WorkerOptions.WorkerHeartbeatInterval"/>.</summary>
internal sealed class WorkerBeat(IWorkerRegistry registry, WorkerOptions worker, IReadOnlyList<string> queues, Func<int> runsInFlight) : MaintenanceService
{
    private static readonly int ProcessId = Environment.ProcessId;

    public override string Name => "worker heartbeat";

    public override TimeSpan Interval => worker.WorkerHeartbeatInterval;

    public override Task RunOnceAsync(CancellationToken cancellationToken) =>
        registry.RecordWorkerAsync(
            new Storage.WorkerBeat(worker.WorkerId, Environment.MachineName, ProcessId, queues, worker.MaxConcurrentRuns, runsInFlight()), cancellationToken);

    /// <summary>How long after its last beat a worker is no longer taken for live.</summary>
    public static TimeSpan LiveWithin(WorkerOptions worker) => worker.WorkerHeartbeatInterval * 3;
}
