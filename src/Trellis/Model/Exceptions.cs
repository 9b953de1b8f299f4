namespace Trellis;

/// <summary>The base of every exception Trellis throws, so callers can catch them as one family.</summary>
public class TrellisException : Exception
{
    /// <summary>An error of Trellis with <paramref name="message"/>.</summary>
    public TrellisException(string message) : base(message) { }

    /// <summary>An error of Trellis with <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public TrellisException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// The store cannot be used as configured: its server cannot be reached, refuses the credentials, has no such
/// database, or the schema holds tables Trellis did not create. The message says what to fix, and where
/// (<see cref="Setting"/>); nothing was written.
/// </summary>
public sealed class StoreConfigurationException(string message, string setting, Exception? innerException = null)
    : TrellisException(message, innerException)
{
    /// <summary>The setting to fix, as the message names it (an option, or an environment variable).</summary>
    public string Setting { get; } = setting;
}

/// <summary>No run has the given id.</summary>
public sealed class RunNotFoundException(string runId)
    : TrellisException($"No run with id '{runId}' exists.")
{
    /// <summary>The id that no run has.</summary>
    public string RunId { get; } = runId;
}

/// <summary>No workflow of the given name (and version) is registered.</summary>
public sealed class UnknownWorkflowException : TrellisException
{
    /// <summary>A workflow name (and version) that is not registered; <paramref name="known"/> lists what is, for the message.</summary>
    public UnknownWorkflowException(string workflowName, int? version, IEnumerable<string> known)
        : base(version is null
            ? $"No workflow named '{workflowName}' is registered. Registered workflows: {Describe(known)}."
            : $"Workflow '{workflowName}' has no registered version {version}. Registered: {Describe(known)}.")
    {
        WorkflowName = workflowName;
        Version = version;
    }

    /// <summary>The name asked for.</summary>
    public string WorkflowName { get; }

    /// <summary>The version asked for, or null for the highest.</summary>
    public int? Version { get; }

    private static string Describe(IEnumerable<string> known)
    {
        var list = string.Join(", ", known);
        return list.Length == 0 ? "(none)" : list;
    }
}

/// <summary>A run's input was rejected before anything was stored: it does not fit the workflow's input type, or it is too large.</summary>
public sealed class InvalidRunInputException(string message, Exception? innerException = null)
    : TrellisException(message, innerException);

/// <summary>
/// A start's run id is taken: by a run of a different workflow, or by any run when the start asked for a new id or the
/// same input (<see cref="StartOptions.IfExists"/>). Nothing was created.
/// </summary>
public sealed class RunConflictException : TrellisException
{
    /// <summary>A start of <paramref name="requestedWorkflow"/> whose run id belongs to a run of <paramref name="existingWorkflow"/>.</summary>
    public RunConflictException(string runId, string existingWorkflow, string requestedWorkflow)
        : base($"Run id '{runId}' already belongs to a run of workflow '{existingWorkflow}', not '{requestedWorkflow}'.")
    {
        RunId = runId;
        ExistingWorkflow = existingWorkflow;
    }

    /// <summary>A start whose run id exists, refused as <paramref name="policy"/> asks.</summary>
    public RunConflictException(string runId, string existingWorkflow, ExistingRun policy)
        : base(policy == ExistingRun.Fail
            ? $"Run id '{runId}' is taken by an existing run of workflow '{existingWorkflow}' (StartOptions.IfExists = Fail)."
            : $"Run id '{runId}' is taken by a run of workflow '{existingWorkflow}' that was started with a different input (StartOptions.IfExists = ReturnIfSameInput).")
    {
        RunId = runId;
        ExistingWorkflow = existingWorkflow;
    }

    /// <summary>The run id that is taken.</summary>
    public string RunId { get; }

    /// <summary>The workflow of the run that has the id.</summary>
    public string ExistingWorkflow { get; }
}

/// <summary>
/// A replayed workflow asked for a different step than the one stored at the same position. The
/// workflow code changed in a way that is not compatible with runs already in flight, or it is not
/// deterministic. The run fails; stored results are never mixed.
/// </summary>
public sealed class NonDeterminismException : TrellisException
{
    /// <summary>A replay that asked for <paramref name="actual"/> where <paramref name="expected"/> is stored, at position <paramref name="sequence"/>.</summary>
    public NonDeterminismException(string runId, int sequence, string expected, string actual)
        : base($"Non-determinism in run '{runId}': position {sequence} holds step '{expected}' from an earlier execution, "
            + $"but the workflow now asks for '{actual}' there. The workflow code changed or does not call its steps in a deterministic order. "
            + "Register the changed code as a new workflow version instead.")
    {
        RunId = runId;
        Sequence = sequence;
        ExpectedStep = expected;
        ActualStep = actual;
    }

    /// <summary>The run whose replay diverged.</summary>
    public string RunId { get; }

    /// <summary>The step position where the stored step and the requested one differ.</summary>
    public int Sequence { get; }

    /// <summary>The step stored at that position by an earlier execution.</summary>
    public string ExpectedStep { get; }

    /// <summary>The step the workflow asked for at that position now.</summary>
    public string ActualStep { get; }
}

/// <summary>
/// Throw this (or a subclass) from a step or workflow to fail at once, without retries.
/// Any exception can also be made permanent with <see cref="RetryPolicy.IsPermanent"/>.
/// </summary>
public class NonRetryableException : TrellisException
{
    /// <summary>An error that fails the step (or run) at once, without retries.</summary>
    public NonRetryableException(string message) : base(message) { }

    /// <summary>An error that fails the step (or run) at once, without retries, caused by <paramref name="innerException"/>.</summary>
    public NonRetryableException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>A step attempt ran longer than its timeout; its cancellation token was cancelled.</summary>
public sealed class StepTimeoutException(string stepName, TimeSpan timeout)
    : TrellisException($"Step '{stepName}' did not finish within its timeout of {timeout.TotalMilliseconds:0} ms.")
{
    /// <summary>The step that took too long.</summary>
    public string StepName { get; } = stepName;

    /// <summary>The step's timeout (<see cref="StepOptions.Timeout"/>).</summary>
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>
/// A step failed for good: a permanent error, or every attempt failed. Thrown into the workflow by
/// <c>StepAsync</c> / <c>ForEachAsync</c>; when the workflow does not catch it, the run attempt fails.
/// </summary>
public sealed class StepFailedException : TrellisException
{
    /// <summary>A step that failed for good: its name, position, item index (for a per-item step), last error, and whether that error is permanent.</summary>
    public StepFailedException(string stepName, int sequence, int? itemIndex, ErrorInfo error, bool permanent, Exception? innerException)
        : base(Describe(stepName, itemIndex, error), innerException)
    {
        StepName = stepName;
        Sequence = sequence;
        ItemIndex = itemIndex;
        Error = error;
        Permanent = permanent;
    }

    /// <summary>The step's name.</summary>
    public string StepName { get; }

    /// <summary>The step's position in the run.</summary>
    public int Sequence { get; }

    /// <summary>For a per-item step, the item that failed; null for a plain step.</summary>
    public int? ItemIndex { get; }

    /// <summary>The error of the last attempt.</summary>
    public ErrorInfo Error { get; }

    /// <summary>True when the error was classified as permanent (the run is not retried either).</summary>
    public bool Permanent { get; }

    private static string Describe(string stepName, int? itemIndex, ErrorInfo error) =>
        itemIndex is null
            ? $"Step '{stepName}' failed after {error.Attempt} attempt(s): {error.Type}: {error.Message}"
            : $"Step '{stepName}' failed on item {itemIndex} after {error.Attempt} attempt(s): {error.Type}: {error.Message}";
}

/// <summary>The awaited run failed.</summary>
public sealed class RunFailedException(string runId, ErrorInfo? error)
    : TrellisException($"Run '{runId}' failed: {error?.Type}: {error?.Message}")
{
    /// <summary>The run that failed.</summary>
    public string RunId { get; } = runId;

    /// <summary>The run's stored error.</summary>
    public ErrorInfo? Error { get; } = error;
}

/// <summary>
/// <see cref="TrellisClient.ResumeAsync"/> was asked to resume a run that is neither cancelled nor stopped by worker losses:
/// one that completed, failed with an error of its own (retry it instead), or is live and was not resumed.
/// </summary>
public sealed class RunNotResumableException(RunInfo run)
    : RunControlException(run.Id, $"Run '{run.Id}' is {run.Status.ToText()}{(run.Error is { } e ? $" ({e.Type})" : "")}; only a cancelled run, or one "
        + "stopped by worker losses (failed with Trellis.WorkerLossLimitExceeded), can be resumed"
        + (run.Status == RunStatus.Failed ? "; a run that failed with its own error can be retried." : "."))
{
    /// <summary>Its status when the resume was asked for.</summary>
    public RunStatus Status { get; } = run.Status;
}

/// <summary>
/// A retry, resume or fork (<see cref="TrellisClient.RetryAsync"/>, <see cref="TrellisClient.ResumeAsync"/>,
/// <see cref="TrellisClient.ForkAsync(string, int, ForkOptions?, System.Threading.CancellationToken)"/>) makes no sense
/// for the run as it is; nothing was changed. The message says why.
/// </summary>
public class RunControlException(string runId, string message) : TrellisException(message)
{
    /// <summary>The run the request was about.</summary>
    public string RunId { get; } = runId;

    internal static RunControlException NotRetryable(RunInfo run) => new(run.Id, run.Status switch
    {
        RunStatus.Completed => $"Run '{run.Id}' completed; only a failed run can be retried (fork it to run steps again).",
        RunStatus.Cancelled => $"Run '{run.Id}' was cancelled; only a failed run can be retried (resume it instead).",
        _ => $"Run '{run.Id}' is {run.Status.ToText()}; only a failed run can be retried.",
    });
}

/// <summary>The awaited run was cancelled.</summary>
public sealed class RunCancelledException(string runId)
    : TrellisException($"Run '{runId}' was cancelled.")
{
    /// <summary>The run that was cancelled.</summary>
    public string RunId { get; } = runId;
}

/// <summary>
/// The worker lost its claim on a run: its lease expired and another worker took the run over, so
/// every write it attempts is fenced off. The workflow code should let this propagate.
/// </summary>
public sealed class LeaseLostException(string runId, long epoch)
    : TrellisException($"This worker no longer holds run '{runId}' (epoch {epoch}); another worker has taken it over.")
{
    /// <summary>The run this worker no longer holds.</summary>
    public string RunId { get; } = runId;

    /// <summary>The epoch of the claim that was lost.</summary>
    public long Epoch { get; } = epoch;
}

/// <summary>
/// A child run the workflow awaited (<see cref="ChildHandle{TOutput}"/>) failed or was cancelled. Permanent: the
/// child's end does not change, so retrying the parent would meet it again.
/// </summary>
public sealed class ChildRunFailedException(string runId, string workflowName, bool cancelled, ErrorInfo? error)
    : NonRetryableException(cancelled
        ? $"Child run '{runId}' ({workflowName}) was cancelled."
        : $"Child run '{runId}' ({workflowName}) failed: {error?.Type}: {error?.Message}")
{
    /// <summary>The child run.</summary>
    public string RunId { get; } = runId;

    /// <summary>The child's workflow.</summary>
    public string WorkflowName { get; } = workflowName;

    /// <summary>True when the child was cancelled rather than failed.</summary>
    public bool Cancelled { get; } = cancelled;

    /// <summary>The child's stored error (null when it was cancelled).</summary>
    public ErrorInfo? Error { get; } = error;
}

/// <summary>The run's deadline (<see cref="StartOptions.Timeout"/>) passed before it finished: its stored error. Permanent.</summary>
public sealed class RunTimedOutException(string runId, TimeSpan? timeout = null)
    : NonRetryableException(timeout is { } t
        ? $"Run '{runId}' did not finish within its timeout of {t}."
        : $"Run '{runId}' did not finish by its deadline.")
{
    /// <summary>The run that timed out.</summary>
    public string RunId { get; } = runId;
}
