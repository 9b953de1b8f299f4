using System.Reflection;
using Trellis.Storage;

namespace Trellis.Postgres.Tests.Infrastructure;

/// <summary>
/// The real store, with one thing added: after <see cref="Hold"/>, the worker's next claim waits before it reaches the
/// store until <see cref="Release"/>. That lets a test act while a claim is in flight (the worker's slots taken for it),
/// which is otherwise a moment of a millisecond or two.
/// </summary>
public class HeldClaimsStore : DispatchProxy
{
    private readonly TaskCompletionSource _holding = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IWorkflowStore _inner = null!;
    private int _armed;

    public static (IWorkflowStore Store, HeldClaimsStore Control) Wrap(IWorkflowStore inner)
    {
        var store = Create<IWorkflowStore, HeldClaimsStore>();
        var control = (HeldClaimsStore)(object)store;
        control._inner = inner;
        return (store, control);
    }

    /// <summary>Completes once a claim is being held.</summary>
    public Task Holding => _holding.Task;

    /// <summary>Completes once the held claim, released, has its answer from the store.</summary>
    public Task Answered => _answered.Task;

    /// <summary>The next claim waits until <see cref="Release"/> (once per store).</summary>
    public void Hold() => Volatile.Write(ref _armed, 1);

    public void Release() => _released.TrySetResult();

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var method = targetMethod!;
        var isClaim = method.Name is nameof(IRunQueue.ClaimAsync) or nameof(IRunQueue.OpenClaimWindowAsync);
        if (!isClaim || Interlocked.Exchange(ref _armed, 0) == 0)
        {
            return Call();
        }

        _holding.TrySetResult();
        return method.Name == nameof(IRunQueue.ClaimAsync)
            ? AfterReleaseAsync(() => (Task<IReadOnlyList<ClaimedRun>>)Call()!)
            : AfterReleaseAsync(() => (Task<IClaimWindow?>)Call()!);

        object? Call()
        {
            try
            {
                return method.Invoke(_inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                throw ex.InnerException;
            }
        }
    }

    private async Task<T> AfterReleaseAsync<T>(Func<Task<T>> claim)
    {
        await _released.Task;
        try
        {
            return await claim();
        }
        finally
        {
            _answered.TrySetResult();
        }
    }
}
