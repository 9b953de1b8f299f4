namespace Trellis.Execution;

/// <summary>
/// The worker's run slots. A slot is taken before a run is claimed (by the claim loop, or by a start in
/// this process that hands the run straight to the worker) and given back when the run ends or the
/// claim comes back short, so the worker never holds more than its configured number of runs.
/// </summary>
internal sealed class SlotCounter(int capacity)
{
    private readonly Lock _lock = new();
    private int _taken;

    public int Capacity => capacity;

    /// <summary>Takes up to <paramref name="wanted"/> free slots; returns how many it took.</summary>
    public int TryTake(int wanted)
    {
        lock (_lock)
        {
            var granted = Math.Max(0, Math.Min(wanted, capacity - _taken));
            _taken += granted;
            return granted;
        }
    }

    public void Release(int count)
    {
        lock (_lock)
        {
            _taken = Math.Max(0, _taken - count);
        }
    }
}
