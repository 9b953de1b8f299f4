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
        if (!_outcomes.TryAdd(outcome.RunId, outcome))
        {
            _outcomes[outcome.RunId] = outcome; // a run retried or resumed here that finished again
        }
        else
        {
            _order.Enqueue(outcome.RunId);
            while (_order.Count > capacity && _order.TryDequeue(out var oldest))
            {
                _outcomes.TryRemove(oldest, out _);
            }
        }
    }

    public RunOutcome? TryGet(string runId) => _outcomes.GetValueOrDefault(runId);

    /// <summary>The run is live again (retried or resumed): its outcome here is no longer its end.</summary>
    public void Forget(string runId) => _outcomes.TryRemove(runId, out _);
}
