namespace Trellis;

/// <summary>
/// One event of a run's history (<c>history</c>), in the order they happened: today a worker loss
/// (<see cref="RunHistoryEvents.WorkerLost"/>) and a resume (<see cref="RunHistoryEvents.Resumed"/>).
/// </summary>
public sealed record RunHistoryEntry
{
    /// <summary>Orders the events of all runs; a run's events read in this order.</summary>
    public required long Id { get; init; }

    /// <summary>The run the event belongs to.</summary>
    public required string RunId { get; init; }

    /// <summary>When the store recorded the event (the database's clock).</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>What happened; one of <see cref="RunHistoryEvents"/>.</summary>
    public required string Event { get; init; }

    /// <summary>The worker the event concerns, where there is one (the worker that was lost).</summary>
    public string? WorkerId { get; init; }

    /// <summary>The epoch of the claim the event concerns, where there is one.</summary>
    public long? Epoch { get; init; }

    /// <summary>The run attempt the event happened in, where there is one.</summary>
    public int? Attempt { get; init; }

    /// <summary>More about the event, as a JSON object (for a worker loss: reason, losses so far, limit).</summary>
    public string? DetailJson { get; init; }
}

/// <summary>The events a run's history records.</summary>
public static class RunHistoryEvents
{
    /// <summary>
    /// The run's worker was lost while it held the run: its lease expired (<c>detail.reason = "lease_expired"</c>)
    /// or its claim window never closed (<c>"claim_window_lost"</c>). <c>detail.losses</c> counts the losses so
    /// far, <c>detail.max_losses</c> is the run's limit.
    /// </summary>
    public const string WorkerLost = "worker_lost";

    /// <summary>The run was resumed from its checkpoints (<c>TrellisClient.ResumeAsync</c>).</summary>
    public const string Resumed = "resumed";
}
