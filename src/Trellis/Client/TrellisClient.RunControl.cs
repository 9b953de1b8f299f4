using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis;

public sealed partial class TrellisClient
{
    /// <summary>
    /// Runs a failed run again from the step that failed: its completed steps (and items) are kept and replayed, the
    /// steps that failed for good run again with their attempts counted anew, and the run gets its whole attempt budget
    /// (<see cref="StartOptions.MaxAttempts"/>) and its timeout again. Recorded in its history
    /// (<see cref="RunHistoryEvents.RetryRequested"/>). Idempotent: asking again once the run is back in the queue (or
    /// running on) changes nothing. A child run that failed its parent is retried on its own; retry the parent after it.
    /// Returns the run after the call.
    /// </summary>
    /// <exception cref="RunNotFoundException">No run has this id.</exception>
    /// <exception cref="RunControlException">The run did not fail (it completed, was cancelled, or is live and was not retried).</exception>
    public async Task<RunInfo> RetryAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        var result = await _store.RetryRunAsync(runId, cancellationToken).ConfigureAwait(false);
        _waiter.Forget(runId);
        return Checked(result, runId, RunControlException.NotRetryable);
    }

    /// <summary>
    /// Resumes a cancelled run, or one stopped because it lost its worker more often than it allows
    /// (<see cref="TrellisOptions.MaxWorkerLosses"/>: failed with the error type <c>Trellis.WorkerLossLimitExceeded</c>).
    /// It goes back to the queue and resumes after its last checkpoint (a wait it was in is waited again), with the
    /// child runs its cancel cancelled; its worker losses count from zero and its timeout starts again. Recorded in its
    /// history (<see cref="RunHistoryEvents.Resumed"/>). Idempotent: asking again once it is back in the queue (or running
    /// on) changes nothing. Returns the run after the call.
    /// </summary>
    /// <exception cref="RunNotFoundException">No run has this id.</exception>
    /// <exception cref="RunNotResumableException">The run completed, failed with an error of its own (see <see cref="RetryAsync"/>), or is live and was not resumed.</exception>
    public async Task<RunInfo> ResumeAsync(string runId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        var result = await _store.ResumeRunAsync(runId, cancellationToken).ConfigureAwait(false);
        _waiter.Forget(runId); // its children, resumed with it, are told by the store's notification
        return Checked(result, runId, run => new RunNotResumableException(run));
    }

    /// <summary>
    /// Starts a new run that reuses <paramref name="runId"/>'s checkpoints before the step at position
    /// <paramref name="fromStep"/> (0 is the first step; <see cref="StepInfo.Sequence"/>) and runs again from there, with
    /// the same input, queue, priority, tags and limits: after fixing a bug in that step, say. The source run is not
    /// touched, whatever its state. The new run names its source (<see cref="RunInfo.ForkedFromRunId"/>,
    /// <see cref="RunInfo.ForkedAtStep"/>) and its history starts with <see cref="RunHistoryEvents.Forked"/>. With
    /// <see cref="ForkOptions.RunId"/> set, forking again with the same id returns the fork made before.
    /// </summary>
    /// <exception cref="RunNotFoundException">No run has this id.</exception>
    /// <exception cref="RunControlException">
    /// The source has no step at that position, a step before it has not completed, a step before it started child runs
    /// (they belong to the source: fork from that step or earlier), or the new id is another run's.
    /// </exception>
    /// <exception cref="UnknownWorkflowException"><see cref="ForkOptions.WorkflowVersion"/> is not registered.</exception>
    public async Task<RunInfo> ForkAsync(string runId, int fromStep, ForkOptions? options = null, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        ArgumentOutOfRangeException.ThrowIfNegative(fromStep);
        options ??= new ForkOptions();
        var newRunId = options.RunId ?? Guid.CreateVersion7().ToString();
        Names.CheckRunId(newRunId, nameof(options));
        if (options.Queue is { } queue)
        {
            Names.CheckQueue(queue, nameof(options));
        }

        if (options.WorkflowVersion is { } version)
        {
            var source = await _store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);
            if (!_registry.TryGet(source.WorkflowName, version, out _))
            {
                await ResolveRemoteDefinitionAsync(source.WorkflowName, version, cancellationToken).ConfigureAwait(false);
            }
        }

        var trace = RunTraceContext.Current;
        var result = await _store.ForkRunAsync(
            new RunFork(runId, newRunId, fromStep, options.WorkflowVersion, options.Queue, trace.TraceParent, trace.TraceState), cancellationToken).ConfigureAwait(false);
        return result.Status switch
        {
            ForkStatus.Created or ForkStatus.Existed => result.Run!,
            ForkStatus.SourceNotFound => throw new RunNotFoundException(runId),
            ForkStatus.NoSuchStep => throw new RunControlException(runId, $"Run '{runId}' has no step at position {fromStep}."),
            ForkStatus.StepsBeforeNotCompleted => throw new RunControlException(
                runId, $"Run '{runId}' has steps before position {fromStep} that have not completed; fork it from the first of them, or earlier."),
            ForkStatus.ChildrenBefore => throw new RunControlException(
                runId, $"A step of run '{runId}' before position {fromStep} started child runs, which belong to it; fork it from that step or earlier."),
            _ => throw new RunControlException(runId, $"Run id '{newRunId}' is taken by a run that is not a fork of '{runId}' at step {fromStep}."),
        };
    }

    /// <summary>
    /// <see cref="ForkAsync(string, int, ForkOptions?, CancellationToken)"/> from the first step named
    /// <paramref name="fromStep"/>.
    /// </summary>
    /// <exception cref="RunControlException">The run has no step of that name.</exception>
    public async Task<RunInfo> ForkAsync(string runId, string fromStep, ForkOptions? options = null, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(runId, nameof(runId));
        ArgumentException.ThrowIfNullOrEmpty(fromStep);
        var steps = await _store.GetReplayStepsAsync(runId, cancellationToken).ConfigureAwait(false);
        var position = steps.Steps.Where(s => s.Name == fromStep).Select(s => (int?)s.Sequence)
            .Concat(steps.PerItem.Where(p => p.Name == fromStep).Select(p => (int?)p.Sequence))
            .Min();
        if (position is null)
        {
            _ = await _store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);
            throw new RunControlException(runId, $"Run '{runId}' has no step named '{fromStep}'.");
        }

        return await ForkAsync(runId, position.Value, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The run after a retry or resume: changed by this call, or by the same request before it (the run is live again);
    /// otherwise the request makes no sense for the run as it is.
    /// </summary>
    private static RunInfo Checked(RunControlResult result, string runId, Func<RunInfo, Exception> refused)
    {
        var run = result.Run ?? throw new RunNotFoundException(runId);
        if (result.Changed || (result.RequestedBefore && !run.Status.IsTerminal()))
        {
            return run;
        }

        throw refused(run);
    }
}
