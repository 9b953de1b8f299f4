using System.Collections.Concurrent;

namespace Trellis.Testing;

/// <summary>Counts step body executions and lets a test hold a body until it says go.</summary>
public sealed class Probe
{
    private readonly ConcurrentDictionary<string, int> _counts = new();
    private readonly ConcurrentQueue<string> _order = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();

    public int Count(string name) => _counts.GetValueOrDefault(name);

    public IReadOnlyList<string> Order => [.. _order];

    public int Hit(string name)
    {
        _order.Enqueue(name);
        return _counts.AddOrUpdate(name, 1, (_, n) => n + 1);
    }

    /// <summary>A gate that bodies can await; <see cref="Open"/> releases them.</summary>
    public Task Gate(string name) => _gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Open(string name) => _gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public Task WaitForAsync(string name, int count, TimeSpan? timeout = null) =>
        Eventually.HoldsAsync(() => Count(name) >= count, $"'{name}' ran {count} time(s)", timeout, () => $"it ran {Count(name)} time(s)");
}
