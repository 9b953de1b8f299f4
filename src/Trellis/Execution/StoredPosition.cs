using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>What the store holds at one step position: a single step, or the items of a per-item step.</summary>
internal sealed class StoredPosition
{
    public required string Name { get; init; }
    public StepInfo? Step { get; init; }
    public Dictionary<int, StepInfo>? Items { get; init; }

    public bool IsPerItem => Items is not null;

    public static Dictionary<int, StoredPosition> Index(IReadOnlyList<StepInfo> steps)
    {
        var index = new Dictionary<int, StoredPosition>();
        foreach (var group in steps.GroupBy(s => s.Sequence))
        {
            var first = group.First();
            index[group.Key] = first.ItemIndex is null
                ? new StoredPosition { Name = first.Name, Step = first }
                : new StoredPosition { Name = first.Name, Items = group.Where(s => s.ItemIndex is not null).ToDictionary(s => s.ItemIndex!.Value) };
        }

        return index;
    }
}
