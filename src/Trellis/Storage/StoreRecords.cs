namespace Trellis.Storage;

/// <summary>
/// A run to create. It becomes ready at <see cref="ScheduledAt"/> if set, otherwise after
/// <see cref="Delay"/> (or at once) measured on the store's clock. With <see cref="ClaimFor"/>, it is
/// created already held by that worker when nothing else is waiting in its queue. <see cref="TraceParent"/> and
/// <see cref="TraceState"/>: the W3C trace context of the span that started it, stored with it (null: none).
/// </summary>
public sealed record NewRun(
    string Id,
    string WorkflowName,
    int WorkflowVersion,
    string Queue,
    int Priority,
    string InputJson,
    string? CorrelationId,
    IReadOnlyDictionary<string, string> Tags,
    int MaxAttempts,
    DateTimeOffset? ScheduledAt,
    TimeSpan? Delay = null,
    LocalClaim? ClaimFor = null,
    int MaxWorkerLosses = TrellisOptions.DefaultMaxWorkerLosses,
    string? ParentRunId = null,
    bool CancelWithParent = true,
    TimeSpan? Timeout = null,
    string? TraceParent = null,
    string? TraceState = null);

/// <summary>A worker that would take a new run at once, and the lease it would hold it under.</summary>
public sealed record LocalClaim(string WorkerId, TimeSpan LeaseDuration);

/// <summary>
/// What became of a run to create: whether this call created it, whether it was created claimed by the
/// worker named in <see cref="NewRun.ClaimFor"/> (and then the epoch of that claim), the workflow of the
/// stored run (null when unknown), and, for a run that existed, whether it was stored with the same input
/// (compared as JSON values, not as text).
/// </summary>
public sealed record CreatedRun(string Id, bool Created, bool Claimed, string? WorkflowName, long Epoch = 0, bool SameInput = true);

/// <summary>
/// Many runs of one workflow with the same settings; only their ids and inputs differ. The ids are new ones
/// (<see cref="TrellisClient.StartManyAsync{TWorkflow}"/> generates them). All share one stored trace context
/// (<see cref="NewRun.TraceParent"/>).
/// </summary>
public sealed record NewRunBatch(
    string WorkflowName,
    int WorkflowVersion,
    string Queue,
    int Priority,
    IReadOnlyList<string> Ids,
    IReadOnlyList<string> InputsJson,
    string? CorrelationId,
    IReadOnlyDictionary<string, string> Tags,
    int MaxAttempts,
    DateTimeOffset? ScheduledAt,
    TimeSpan? Delay,
    int MaxWorkerLosses = TrellisOptions.DefaultMaxWorkerLosses,
    TimeSpan? Timeout = null,
    string? TraceParent = null,
    string? TraceState = null);

/// <summary>A workflow name and version a worker can run.</summary>
public readonly record struct WorkflowKey(string Name, int Version);

/// <summary>A workflow definition as recorded in the store, with the worker-loss limit the workflow sets (null: none).</summary>
public sealed record DefinitionRecord(string Name, int Version, string InputType, string OutputType, int? MaxWorkerLosses = null);

/// <summary>A worker's claim: its id, the queues and workflow versions it serves, how many runs it wants, and its lease.</summary>
/// <param name="WorkerId">The claiming worker, written to <c>runs.locked_by</c>.</param>
/// <param name="Queues">The queues it serves.</param>
/// <param name="Workflows">The workflow names and versions it can run.</param>
/// <param name="Limit">The most runs to claim.</param>
/// <param name="LeaseDuration">How long the lease lasts without a renewal.</param>
public sealed record ClaimRequest(
    string WorkerId,
    IReadOnlyList<string> Queues,
    IReadOnlyList<WorkflowKey> Workflows,
    int Limit,
    TimeSpan LeaseDuration);

/// <summary>
/// A run handed to a worker, with the epoch that fences its writes. <paramref name="StartedBefore"/>: an earlier
/// claim started the run, or it is a fork with copied steps, so it may have checkpoints to replay (a run never started has none to read).
/// <paramref name="StoreTime"/>: the store's clock when it handed the run over, if it said (a timer counts from it).
/// <paramref name="TimeLeft"/>: the time left then until the run's deadline (<see cref="StartOptions.Timeout"/>), if it has one.
/// <paramref name="TraceParent"/>, <paramref name="TraceState"/>: the trace context stored as the run started (<see cref="NewRun.TraceParent"/>).
/// </summary>
public sealed record ClaimedRun(
    string Id,
    string WorkflowName,
    int WorkflowVersion,
    string? InputJson,
    long Epoch,
    int Attempt,
    int MaxAttempts,
    bool CancelRequested,
    string? CorrelationId,
    IReadOnlyDictionary<string, string> Tags,
    bool StartedBefore,
    DateTimeOffset? StoreTime = null,
    TimeSpan? TimeLeft = null,
    string? TraceParent = null,
    string? TraceState = null);

/// <summary>A run a worker holds, and the epoch it holds it under.</summary>
public readonly record struct RunLease(string RunId, long Epoch);

/// <summary>
/// What a worker found as it started (<see cref="IRunQueue.RecoverWorkerRunsAsync"/>): how many runs an earlier process
/// under its worker id held, put back in the queue now; and, of the runs other workers hold, how many leases have
/// expired already (lease recovery takes those up at once) and when the others run out at the latest.
/// </summary>
public sealed record WorkerStartRecovery(int RecoveredOwnRuns, int ExpiredLeases, int HeldByOthers, DateTimeOffset? LatestLeaseEnd);

/// <summary>What <see cref="IRunTimers.WakeDueRunsAsync"/> did: how many runs it woke, and how long until the next is due.</summary>
public sealed record WokenRuns(int Woken, TimeSpan? NextDueIn);

/// <summary>An event to publish: its name, its key, and its data as JSON (or null).</summary>
public sealed record NewEvent(string Name, string Key, string? DataJson);

/// <summary>
/// A run's wait for an event, at a step position: the name and key it waits on, from when on an event counts (null:
/// the run's creation), and how long it waits (null: for good).
/// </summary>
public sealed record EventWait(string RunId, long Epoch, int Sequence, string Name, string Key, DateTimeOffset? EffectiveFrom, TimeSpan? Timeout);

/// <summary>How a wait for an event stands.</summary>
public enum EventWaitState
{
    /// <summary>An event reached it: <see cref="EventWaitOutcome.DataJson"/>.</summary>
    Received,

    /// <summary>Its timeout passed first.</summary>
    TimedOut,

    /// <summary>It is open, and the run waits in the store without a worker (or was cancelled instead).</summary>
    Waiting,

    /// <summary>The claim named in the wait no longer holds the run; nothing was written.</summary>
    NotHeld,
}

/// <summary>The answer to <see cref="IRunEvents.WaitForEventAsync"/>.</summary>
public sealed record EventWaitOutcome(EventWaitState State, string? DataJson = null, DateTimeOffset? PublishedAt = null);

/// <summary>A run's value under a key: whether the run exists, whether the value was set (it may be set to null), and whether the run has finished.</summary>
public sealed record RunValue(bool RunExists, bool IsSet, string? ValueJson, bool RunFinished);

/// <summary>One entry of a run's stream: its position, its value as JSON, or the stream's end.</summary>
public sealed record StreamEntry(int Sequence, string? ValueJson, bool Closes);

/// <summary>Entries of a run's stream, whether the run exists, and whether it had finished when they were read.</summary>
public sealed record StreamPage(bool RunExists, bool RunFinished, IReadOnlyList<StreamEntry> Entries);


/// <summary>
/// A parent's wait for some of its children, by the claim <paramref name="Epoch"/> that holds the parent
/// (<see cref="IRunChildren.WaitForChildrenAsync"/>).
/// </summary>
public sealed record ChildrenWait(string ParentRunId, long Epoch, IReadOnlyList<string> ChildIds);

/// <summary>How a parent's wait for children stands.</summary>
public enum ChildrenWaitState
{
    /// <summary>Every child waited for has finished: <see cref="ChildrenWaitOutcome.Finished"/>.</summary>
    Finished,

    /// <summary>Some have not: the parent waits in the store without a worker (or was cancelled instead).</summary>
    Waiting,

    /// <summary>The claim named in the wait no longer holds the parent; nothing was written.</summary>
    NotHeld,
}

/// <summary>A finished child's end: how it ended, its output, its error.</summary>
public sealed record ChildOutcome(string RunId, string WorkflowName, RunStatus Status, string? OutputJson, ErrorInfo? Error);

/// <summary>The state of a wait for children and, once they have all finished, every finished child of the parent.</summary>
public sealed record ChildrenWaitOutcome(ChildrenWaitState State, IReadOnlyList<ChildOutcome> Finished);

/// <summary>A run's plain steps, and the positions and names of its per-item steps, whose rows are read apart.</summary>
public sealed record ReplaySteps(IReadOnlyList<StepInfo> Steps, IReadOnlyList<PerItemPosition> PerItem);

/// <summary>A per-item step's position and name.</summary>
public readonly record struct PerItemPosition(int Sequence, string Name);

/// <summary>
/// A per-item step's stored items counted: how many have a row, how many completed, failed for good or are in flight,
/// and from the first one's start to the last one's end.
/// </summary>
public sealed record PerItemSummary(
    int Sequence, string Name, int Items, int Completed, int Failed, int Running, DateTimeOffset? FirstStartedAt, DateTimeOffset? LastCompletedAt);

/// <summary>A run's steps as people look at them: the plain steps in full, each per-item step with its items counted.</summary>
public sealed record StepOverview(IReadOnlyList<StepInfo> Steps, IReadOnlyList<PerItemSummary> PerItem);
