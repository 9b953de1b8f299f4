using System.Reflection;
using Trellis.Storage;

namespace Trellis.Testing;

/// <summary>
/// The real store, with its worker's claims counted: a test that must show a run is <em>not</em> taken waits for a
/// claim that began after the run was created to come back, instead of sleeping and hoping a claim came meanwhile.
/// </summary>
public class ClaimRounds : DispatchProxy
{
    private readonly Lock _lock = new();
    private IWorkflowStore _inner = null!;
    private IWorkflowStore _self = null!;
    private long _sent;
    private long _latestAnswered;

    /// <summary>A counter to put around the store an engine builds (<see cref="Around"/>).</summary>
    public static ClaimRounds Create()
    {
        var store = Create<IWorkflowStore, ClaimRounds>();
        var rounds = (ClaimRounds)(object)store;
        rounds._self = store;
        return rounds;
    }

    /// <summary>Counts the claims sent to <paramref name="inner"/>: give the returned store to the engine.</summary>
    public IWorkflowStore Around(IWorkflowStore inner)
    {
        _inner = inner;
        return _self;
    }

    /// <summary>Waits until a claim sent after this call has come back from the store (it saw everything written before the call).</summary>
    public Task NextAnsweredAsync(TimeSpan? timeout = null)
    {
        long mark;
        lock (_lock)
        {
            mark = _sent;
        }

        return Eventually.HoldsAsync(
            () =>
            {
                lock (_lock)
                {
                    return _latestAnswered > mark;
                }
            },
            "the worker made a claim",
            timeout);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var method = targetMethod!;
        if (method.Name is not (nameof(IRunQueue.ClaimAsync) or nameof(IRunQueue.OpenClaimWindowAsync)))
        {
            return Call(method, args);
        }

        long ticket;
        lock (_lock)
        {
            ticket = ++_sent;
        }

        var claim = (Task)Call(method, args)!;
        claim.ContinueWith(
            _ =>
            {
                lock (_lock)
                {
                    _latestAnswered = Math.Max(_latestAnswered, ticket);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return claim;
    }

    private object? Call(MethodInfo method, object?[]? args)
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
