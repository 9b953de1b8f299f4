using Trellis.Storage;

namespace Trellis.Client;

/// <summary>A slot a start in this process took for its run, and when (<see cref="TimeProvider.GetTimestamp"/>).</summary>
internal sealed record LocalReservation(LocalClaim Claim, long ReservedAt);

/// <summary>
/// A worker in the client's own process, which can take a run as it is created (no claim round trip) and which
/// reports the end of the runs it executes itself. The client knows it only through this, so it needs no worker.
/// </summary>
internal interface ILocalRunner
{
    /// <summary>True while this process is executing the run: its end is reported in-process.</summary>
    bool IsExecuting(string runId);

    /// <summary>
    /// Takes a slot for a run that a start in this process wants to hand over directly, or returns null when the
    /// runner would not take it (not running, another queue, the workflow version not registered, no free slot).
    /// </summary>
    LocalReservation? TryReserveForLocalStart(string queue, string workflowName, int version);

    /// <summary>Runs a run the store created already claimed by this runner, in the slot reserved for it.</summary>
    void StartReserved(ClaimedRun claim, LocalReservation reservation);

    /// <summary>Gives back a slot reserved for a run that was not created claimed after all.</summary>
    void CancelReservation();
}
