using System.Collections.Concurrent;

namespace Trellis.Client;

/// <summary>
/// The last few thousand outcomes of runs finished by this process's worker, so that awaiting a run
/// that has just finished here needs no database read. Oldest entries are dropped first.
/// </summary>
internal sealed class RecentOutcomes(int capacity)
{
    private readonly ConcurrentDictionary<string, RunOutcome> _outcomes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    public void Add(RunOutcome outcome)
    {
        if (_outcomes.TryAdd(outcome.RunId, outcome))
        {
            _order.Enqueue(outcome.RunId);
            while (_order.Count > capacity && _order.TryDequeue(out var oldest))
            {
                _outcomes.TryRemove(oldest, out _);
            }
        }
    }

    public RunOutcome? TryGet(string runId) => _outcomes.GetValueOrDefault(runId);
}
