namespace Trellis.Storage;

/// <summary>
/// One queue's figures (<see cref="IRunStatistics.GetQueueReportAsync"/>): its live runs now, its runs created in the
/// window that finished, and the live workers that take runs from it.
/// </summary>
/// <param name="Queue">The queue's name.</param>
/// <param name="Ready">Pending runs a worker may claim now (the queue's depth).</param>
/// <param name="Scheduled">Pending runs scheduled for later.</param>
/// <param name="Running">Runs a worker holds now.</param>
/// <param name="Waiting">Runs waiting for a timer, an event or children.</param>
/// <param name="OldestReadyAge">How long the oldest ready run has been ready (<see cref="TimeSpan.Zero"/> when none is).</param>
/// <param name="Completed">Runs created in the window that completed.</param>
/// <param name="Failed">Runs created in the window that failed.</param>
/// <param name="Cancelled">Runs created in the window that were cancelled.</param>
/// <param name="Workers">Live workers that take runs from this queue.</param>
/// <param name="WorkerSlots">Their slots together (a worker's slots are shared by all its queues).</param>
public sealed record QueueFigures(
    string Queue, long Ready, long Scheduled, long Running, long Waiting, TimeSpan OldestReadyAge,
    long Completed, long Failed, long Cancelled, long Workers, long WorkerSlots);

/// <summary>Runs of a queue that finished in one minute of the window.</summary>
public sealed record QueueMinute(DateTimeOffset Minute, string Queue, long Completed, long Failed, long Cancelled);

/// <summary>Every queue with live runs, runs finished in the window or a live worker, made at <see cref="At"/> (the database's clock).</summary>
/// <param name="At">When the figures were made.</param>
/// <param name="Since">The start of the window (by creation time, as for <see cref="RunAnalytics"/>).</param>
/// <param name="Queues">Per queue, by name.</param>
/// <param name="Throughput">Finished runs per minute and queue.</param>
public sealed record QueueReport(DateTimeOffset At, DateTimeOffset Since, IReadOnlyList<QueueFigures> Queues, IReadOnlyList<QueueMinute> Throughput);
