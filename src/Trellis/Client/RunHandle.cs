namespace Trellis;

/// <summary>A reference to one run, for reading it, awaiting it and cancelling it.</summary>
public class RunHandle
{
    internal RunHandle(TrellisClient client, string runId, bool created = false)
    {
        Client = client;
        RunId = runId;
        Created = created;
    }

    /// <summary>The client this handle reads and acts through.</summary>
    public TrellisClient Client { get; }

    /// <summary>The run's id.</summary>
    public string RunId { get; }

    /// <summary>
    /// True when the start that returned this handle created the run; false when a run with its id existed already
    /// (see <see cref="StartOptions.IfExists"/>), and for a handle from <see cref="TrellisClient.GetHandle(string)"/>.
    /// </summary>
    public bool Created { get; }

    /// <summary>The run as stored now.</summary>
    public async Task<RunInfo> GetAsync(CancellationToken cancellationToken = default) =>
        await Client.GetRunAsync(RunId, cancellationToken).ConfigureAwait(false) ?? throw new RunNotFoundException(RunId);

    /// <summary>The run's stored steps, by position, then item index.</summary>
    public Task<IReadOnlyList<StepInfo>> GetStepsAsync(CancellationToken cancellationToken = default) =>
        Client.GetStepsAsync(RunId, cancellationToken);

    /// <summary>Cancels the run (see <see cref="TrellisClient.CancelAsync"/>); returns it after the request.</summary>
    public Task<RunInfo> CancelAsync(CancellationToken cancellationToken = default) =>
        Client.CancelAsync(RunId, cancellationToken);

    /// <summary>Resumes the run after a cancel or after it was stopped by worker losses (see <see cref="TrellisClient.ResumeAsync"/>).</summary>
    public Task<RunInfo> ResumeAsync(CancellationToken cancellationToken = default) =>
        Client.ResumeAsync(RunId, cancellationToken);

    /// <summary>Runs the run again from the step that failed (<see cref="TrellisClient.RetryAsync"/>).</summary>
    public Task<RunInfo> RetryAsync(CancellationToken cancellationToken = default) =>
        Client.RetryAsync(RunId, cancellationToken);

    /// <summary>A new run from this one's checkpoints before step <paramref name="fromStep"/> (<see cref="TrellisClient.ForkAsync(string, int, ForkOptions?, CancellationToken)"/>).</summary>
    public Task<RunInfo> ForkAsync(int fromStep, ForkOptions? options = null, CancellationToken cancellationToken = default) =>
        Client.ForkAsync(RunId, fromStep, options, cancellationToken);

    /// <summary>The run's history, oldest event first.</summary>
    public Task<IReadOnlyList<RunHistoryEntry>> GetHistoryAsync(CancellationToken cancellationToken = default) =>
        Client.GetHistoryAsync(RunId, cancellationToken);

    /// <summary>The runs this run started as its children, in the order it started them.</summary>
    public Task<IReadOnlyList<RunInfo>> GetChildrenAsync(CancellationToken cancellationToken = default) =>
        Client.GetChildrenAsync(RunId, cancellationToken);

    /// <summary>Waits until the run has finished, however it ended.</summary>
    public Task<RunOutcome> WaitAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Client.WaitForOutcomeAsync(RunId, timeout, cancellationToken);

    /// <summary>
    /// Waits for the run and returns its output. Throws <see cref="RunFailedException"/> or
    /// <see cref="RunCancelledException"/> when it did not complete, and <see cref="TimeoutException"/> when
    /// <paramref name="timeout"/> passes first.
    /// </summary>
    public async Task<T> GetResultAsync<T>(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var outcome = await WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        return outcome.Status switch
        {
            RunStatus.Completed => Client.Serializer.Deserialize<T>(outcome.OutputJson),
            RunStatus.Cancelled => throw new RunCancelledException(RunId),
            _ => throw new RunFailedException(RunId, outcome.Error),
        };
    }
}

/// <summary>A run of a known workflow type, whose result is typed (see <see cref="RunHandleExtensions"/>).</summary>
public sealed class RunHandle<TWorkflow> : RunHandle, IRunHandle<TWorkflow>
    where TWorkflow : IWorkflow
{
    internal RunHandle(TrellisClient client, string runId, bool created = false) : base(client, runId, created) { }

    RunHandle IRunHandle<TWorkflow>.Handle => this;
}

/// <summary>Lets the compiler find a workflow's output type from the handle's workflow type.</summary>
public interface IRunHandle<out TWorkflow>
{
    /// <summary>The untyped handle.</summary>
    RunHandle Handle { get; }
}

/// <summary>Typed results for handles of a known workflow type.</summary>
public static class RunHandleExtensions
{
    /// <summary>Waits for the run and returns its output, typed as the workflow's output.</summary>
    public static Task<TOutput> GetResultAsync<TInput, TOutput>(this IRunHandle<Workflow<TInput, TOutput>> run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Handle.GetResultAsync<TOutput>(null, cancellationToken);
    }

    /// <summary>Waits at most <paramref name="timeout"/> for the run and returns its output.</summary>
    public static Task<TOutput> GetResultAsync<TInput, TOutput>(this IRunHandle<Workflow<TInput, TOutput>> run, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Handle.GetResultAsync<TOutput>(timeout, cancellationToken);
    }
}
