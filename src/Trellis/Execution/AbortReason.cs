namespace Trellis.Execution;

/// <summary>Why a worker stopped executing a run before the workflow returned.</summary>
internal enum AbortReason
{
    /// <summary>Another worker took the run over; nothing more may be written.</summary>
    LeaseLost,

    /// <summary>The worker is shutting down and gives the run back to the queue.</summary>
    Shutdown,

    /// <summary>
    /// Claimed while starts in this process took the worker's free slots: given back to the queue, unstarted
    /// and uncharged, so the worker never runs more than its <see cref="WorkerOptions.MaxConcurrentRuns"/>.
    /// </summary>
    OverLimit,

    /// <summary>The workflow waits without a worker (a sleep): its code is not resumed in this execution.</summary>
    Suspended,
}
