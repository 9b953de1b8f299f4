namespace Trellis.Storage;

/// <summary>
/// An operator's hand on finished runs: retry a failed run, resume a cancelled one or one stopped by worker losses,
/// fork a run from one of its steps. Each is one statement that records itself in the run's history.
/// </summary>
public interface IRunControl
{
    /// <summary>
    /// Puts a failed run back in the queue with its whole attempt budget again: its completed steps are kept, the steps
    /// (and items) that failed for good run again, its error and worker losses are cleared and its timeout starts
    /// again. Records <see cref="RunHistoryEvents.RetryRequested"/>. Changes nothing unless the run failed.
    /// </summary>
    Task<RunControlResult> RetryRunAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts a cancelled run, or one stopped by worker losses (failed with <c>Trellis.WorkerLossLimitExceeded</c>), back
    /// in the queue from its checkpoints, with the child runs its cancel cancelled (and theirs); worker losses count
    /// from zero and the timeout starts again. Records <see cref="RunHistoryEvents.Resumed"/>. Changes nothing for a
    /// run in any other state.
    /// </summary>
    Task<RunControlResult> ResumeRunAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates <see cref="RunFork.NewRunId"/> as a fork of <see cref="RunFork.SourceRunId"/>: the same workflow, input,
    /// queue, priority, tags and limits, with copies of the source's step rows before <see cref="RunFork.FromStep"/>,
    /// ready to run. Records <see cref="RunHistoryEvents.Forked"/> in the new run's history. Creates nothing when a
    /// check fails or the new id exists (see <see cref="ForkResult"/>).
    /// </summary>
    Task<ForkResult> ForkRunAsync(RunFork fork, CancellationToken cancellationToken = default);
}

/// <summary>What a retry or a resume did: whether it changed the run, the run after it (null when it does not exist),
/// and whether the run's history holds the same request from before (so a repeated call is recognised).</summary>
public sealed record RunControlResult(bool Changed, RunInfo? Run, bool RequestedBefore);

/// <summary>A fork to make.</summary>
/// <param name="SourceRunId">The run forked.</param>
/// <param name="NewRunId">The fork's id.</param>
/// <param name="FromStep">The step position the fork runs again from; the source's rows before it are copied.</param>
/// <param name="WorkflowVersion">The new run's workflow version; null keeps the source's.</param>
/// <param name="Queue">The new run's queue; null keeps the source's.</param>
/// <param name="TraceParent">The W3C traceparent of the caller that forks (its spans join that trace), if any.</param>
/// <param name="TraceState">The caller's W3C tracestate, if any.</param>
public sealed record RunFork(
    string SourceRunId, string NewRunId, int FromStep, int? WorkflowVersion = null, string? Queue = null, string? TraceParent = null, string? TraceState = null);

/// <summary>How a fork went.</summary>
public enum ForkStatus
{
    /// <summary>The fork was created.</summary>
    Created,

    /// <summary>A fork of the same run from the same step had this id already: nothing changed.</summary>
    Existed,

    /// <summary>No run has the source id.</summary>
    SourceNotFound,

    /// <summary>The source has no step at that position.</summary>
    NoSuchStep,

    /// <summary>A step (or item) before that position has not completed.</summary>
    StepsBeforeNotCompleted,

    /// <summary>A step before that position started child runs, which belong to the source.</summary>
    ChildrenBefore,

    /// <summary>Another run (not a fork of the same run from the same step) has the new id.</summary>
    IdTaken,
}

/// <summary>The outcome of <see cref="IRunControl.ForkRunAsync"/>, with the new run when it exists.</summary>
public sealed record ForkResult(ForkStatus Status, RunInfo? Run);
