namespace Trellis.Storage;

/// <summary>
/// A queue's ready runs as the store saw them (<see cref="IRunQueue.GetQueueStatsAsync"/>): how many there are, and how
/// long the oldest of them has been ready (<see cref="TimeSpan.Zero"/> when none is).
/// </summary>
public sealed record QueueStats(string Queue, long ReadyRuns, TimeSpan OldestReadyAge);
