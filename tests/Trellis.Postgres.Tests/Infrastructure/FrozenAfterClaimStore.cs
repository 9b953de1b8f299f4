using System.Reflection;
using Trellis.Storage;

namespace Trellis.Postgres.Tests.Infrastructure;

/// <summary>
/// The real store, with one thing added: the first claim that brings back runs reaches the worker only after
/// <see cref="WhileFrozen"/> has run, as if the worker had been paused (SIGSTOP) between its claim and the start of
/// its runs. The claim itself is done: a claim window's transaction is open, a lease is running.
/// </summary>
public class FrozenAfterClaimStore : DispatchProxy
{
    private IWorkflowStore _inner = null!;
    private Func<IReadOnlyList<ClaimedRun>, Task> _whileFrozen = null!;
    private int _done;

    public static IWorkflowStore Wrap(IWorkflowStore inner, Func<IReadOnlyList<ClaimedRun>, Task> whileFrozen)
    {
        var store = Create<IWorkflowStore, FrozenAfterClaimStore>();
        var control = (FrozenAfterClaimStore)(object)store;
        control._inner = inner;
        control._whileFrozen = whileFrozen;
        return store;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var method = targetMethod!;
        object? result;
        try
        {
            result = method.Invoke(_inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }

        return method.Name switch
        {
            nameof(IRunQueue.ClaimAsync) => FreezeAsync((Task<IReadOnlyList<ClaimedRun>>)result!, runs => runs),
            nameof(IRunQueue.OpenClaimWindowAsync) => FreezeAsync((Task<IClaimWindow?>)result!, window => window?.Runs ?? []),
            _ => result,
        };
    }

    private async Task<T> FreezeAsync<T>(Task<T> claim, Func<T, IReadOnlyList<ClaimedRun>> runsOf)
    {
        var answer = await claim;
        var runs = runsOf(answer);
        if (runs.Count > 0 && Interlocked.Exchange(ref _done, 1) == 0)
        {
            await _whileFrozen(runs);
        }

        return answer;
    }
}
