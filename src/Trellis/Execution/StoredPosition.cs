using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// What the store holds at one step position: a single step, or a per-item step, whose rows the replay reads page by
/// page when it reaches it (a fan-out of 100,000 items is never held as rows all at once).
/// </summary>
internal sealed class StoredPosition
{
    public required string Name { get; init; }
    public StepInfo? Step { get; init; }
    public bool IsPerItem { get; init; }

    public static Dictionary<int, StoredPosition> Index(ReplaySteps stored)
    {
        var index = new Dictionary<int, StoredPosition>();
        foreach (var step in stored.Steps)
        {
            index[step.Sequence] = new StoredPosition { Name = step.Name, Step = step };
        }

        foreach (var position in stored.PerItem)
        {
            index[position.Sequence] = new StoredPosition { Name = position.Name, IsPerItem = true };
        }

        return index;
    }
}
