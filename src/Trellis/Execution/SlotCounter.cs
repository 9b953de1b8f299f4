namespace Trellis.Execution;

/// <summary>
/// The worker's run slots. A run holds a slot from the moment it is handed to the worker until it
/// ends. The claim loop takes the free slots it asks the store for while its claim is in flight and
/// keeps those it got runs for.
/// </summary>
/// <remarks>
/// A start in this process that hands its run straight to the worker only needs a slot not held by a
/// run: it does not wait for a claim in flight to give its unused slots back (on an idle worker the
/// claim loop asks for all of them every poll). If that claim then comes back with more runs than the
/// slots left, <see cref="EndClaim"/> says how many are over, and the worker gives those back to the
/// queue before they begin: no more than the capacity ever execute at once.
/// </remarks>
internal sealed class SlotCounter(int capacity)
{
    private readonly Lock _lock = new();
    private int _held;
    private int _claiming;

    /// <summary>For the claim loop: takes up to <paramref name="wanted"/> free slots for one claim.</summary>
    public int TryTakeForClaim(int wanted)
    {
        lock (_lock)
        {
            var granted = Math.Max(0, Math.Min(wanted, capacity - _held - _claiming));
            _claiming += granted;
            return granted;
        }
    }

    /// <summary>
    /// For the claim loop: the claim for <paramref name="taken"/> slots returned <paramref name="claimed"/> runs.
    /// Returns how many of them are over the capacity (local starts took their slots meanwhile); they
    /// hold slots until given back, like any run.
    /// </summary>
    public int EndClaim(int taken, int claimed)
    {
        lock (_lock)
        {
            _claiming -= taken;
            _held += claimed;
            return Math.Clamp(_held - capacity, 0, claimed);
        }
    }

    /// <summary>For a start in this process: takes one slot not held by a run.</summary>
    public bool TryTakeForLocalStart()
    {
        lock (_lock)
        {
            if (_held >= capacity)
            {
                return false;
            }

            _held++;
            return true;
        }
    }

    /// <summary>A run ended, or a slot taken for a local start was not used.</summary>
    public void Release()
    {
        lock (_lock)
        {
            _held = Math.Max(0, _held - 1);
        }
    }
}
