namespace Trellis.Storage;

/// <summary>The workers that record themselves in the store: who runs, where, with how many slots, last seen when.</summary>
public interface IWorkerRegistry
{
    /// <summary>Records (or refreshes) a worker's row, with the store's clock as its heartbeat; forgets workers silent for a day.</summary>
    Task RecordWorkerAsync(WorkerBeat beat, CancellationToken cancellationToken = default);

    /// <summary>Marks a worker stopped (it shut down gracefully).</summary>
    Task RecordWorkerStoppedAsync(string workerId, CancellationToken cancellationToken = default);

    /// <summary>Workers not stopped whose last heartbeat is within <paramref name="within"/> of now, by id.</summary>
    Task<IReadOnlyList<WorkerInfo>> GetLiveWorkersAsync(TimeSpan within, CancellationToken cancellationToken = default);
}

/// <summary>What a worker says of itself at each heartbeat.</summary>
/// <param name="WorkerId">Its id (<see cref="WorkerOptions.WorkerId"/>).</param>
/// <param name="Host">The machine it runs on.</param>
/// <param name="ProcessId">Its process id there.</param>
/// <param name="Queues">The queues it claims from.</param>
/// <param name="Slots">Runs it may execute at once.</param>
/// <param name="RunsInFlight">Runs it executes now.</param>
public sealed record WorkerBeat(string WorkerId, string Host, int ProcessId, IReadOnlyList<string> Queues, int Slots, int RunsInFlight);

/// <summary>A worker as the store last heard of it.</summary>
/// <param name="WorkerId">Its id.</param>
/// <param name="Host">The machine it runs on.</param>
/// <param name="ProcessId">Its process id there.</param>
/// <param name="Queues">The queues it claims from.</param>
/// <param name="Slots">Runs it may execute at once.</param>
/// <param name="RunsInFlight">Runs it executed at its last heartbeat.</param>
/// <param name="StartedAt">When it first recorded itself.</param>
/// <param name="HeartbeatAt">Its last heartbeat (the store's clock).</param>
public sealed record WorkerInfo(
    string WorkerId, string Host, int ProcessId, IReadOnlyList<string> Queues, int Slots, int RunsInFlight, DateTimeOffset StartedAt, DateTimeOffset HeartbeatAt);
