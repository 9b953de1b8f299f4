namespace Trellis.Testing;

/// <summary>Parts of a run's history that tests look at.</summary>
public static class HistoryQueries
{
    /// <summary>The run's worker losses, oldest first.</summary>
    public static async Task<IReadOnlyList<RunHistoryEntry>> WorkerLossesAsync(this RunHandle run) =>
        [.. (await run.GetHistoryAsync()).Where(h => h.Event == RunHistoryEvents.WorkerLost)];

    /// <summary>The events of the history, in order, without those of steps (which come from the steps' rows).</summary>
    public static IReadOnlyList<string> RunEvents(this IEnumerable<RunHistoryEntry> history) =>
        [.. history.Where(h => !h.Event.StartsWith("step_", StringComparison.Ordinal)).Select(h => h.Event)];
}
