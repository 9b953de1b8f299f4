namespace Trellis.Storage;

/// <summary>
/// Everything Trellis keeps, in one store. The roles are split so that each part of the engine
/// depends only on what it uses: the client on <see cref="IRunStore"/>, the worker on
/// <see cref="IRunQueue"/> and <see cref="ICheckpointStore"/>, wake-ups on <see cref="IStoreListener"/>, maintenance
/// that runs on one worker at a time on <see cref="ILeaderLeases"/>.
/// </summary>
public interface IWorkflowStore : IRunStore, IRunQueue, ICheckpointStore, IStoreListener, ILeaderLeases, IRunTimers, IRunEvents, IRunValues, IRunChildren, IRunControl, IRunStatistics, IRunRetention, IWorkerRegistry, IAsyncDisposable
{
    /// <summary>Where the data lives, for logs and error messages (never includes a password).</summary>
    string Description { get; }

    /// <summary>Brings the store's schema up to date. Safe to call from many processes at once.</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>Throws when the store cannot be reached or is not migrated; returns the schema's migration version.</summary>
    Task<int> CheckHealthAsync(CancellationToken cancellationToken = default);
}

/// <summary>Runs as a client sees them: start, read, list, cancel.</summary>
public interface IRunStore
{
    /// <summary>
    /// Creates runs in one round trip and one transaction; a run whose id exists is left as it is. Runs
    /// marked <see cref="NewRun.ClaimFor"/> are created already claimed by that worker (with an epoch and a
    /// lease) when their queue has no ready work waiting, so that a worker in the starting process can
    /// run them without a claim round trip. Returns one result per run, in order.
    /// </summary>
    Task<IReadOnlyList<CreatedRun>> CreateRunsAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates many runs of one workflow with the same settings in one round trip and one transaction
    /// (bulk enqueue). The ids are new (the client generates them), so the batch is inserted as it is: an id
    /// that exists fails the whole batch and creates nothing. Returns how many were created.
    /// </summary>
    Task<int> CreateRunBatchAsync(NewRunBatch batch, CancellationToken cancellationToken = default);

    /// <summary>The run, or null when no run has this id.</summary>
    Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Of the given runs, those that have finished (completed, failed or cancelled).</summary>
    Task<IReadOnlyList<RunInfo>> GetFinishedRunsAsync(IReadOnlyCollection<string> runIds, CancellationToken cancellationToken = default);

    /// <summary>Runs matching the query, newest first, one page.</summary>
    Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken = default);

    /// <summary>A run's steps ordered by sequence, then item index.</summary>
    Task<IReadOnlyList<StepInfo>> GetStepsAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// What a replay reads first: the run's plain steps in order, and for each per-item step only its position and name
    /// (its rows are read page by page as the replay reaches it: <see cref="GetStepItemsAsync"/>).
    /// </summary>
    Task<ReplaySteps> GetReplayStepsAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>The rows of the per-item step at <paramref name="sequence"/> after item <paramref name="afterItemIndex"/>, in item order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<StepInfo>> GetStepItemsAsync(string runId, int sequence, int afterItemIndex, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// The run's plain steps in order, and each per-item step with its items counted by status, in position order (reads
    /// every item row: for people, not replays, which read <see cref="GetReplayStepsAsync"/>).
    /// </summary>
    Task<StepOverview> GetStepOverviewAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancels a pending run at once; marks a running run so that it stops at its next step boundary.
    /// Returns the run after the change, or null when it does not exist.
    /// </summary>
    Task<RunInfo?> RequestCancelAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancels, as <see cref="RequestCancelAsync"/> would, the children of a finished run that follow their parent's
    /// cancel, and theirs; nothing when the run is live again (retried or resumed meanwhile). For a run that timed out.
    /// </summary>
    Task CancelChildrenAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>A run's history, oldest event first.</summary>
    Task<IReadOnlyList<RunHistoryEntry>> GetHistoryAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Records the workflow definitions a worker can run, so that other processes can start them by name.</summary>
    Task RegisterDefinitionsAsync(IReadOnlyCollection<DefinitionRecord> definitions, CancellationToken cancellationToken = default);

    /// <summary>The versions of a workflow that some worker has registered, highest first.</summary>
    Task<IReadOnlyList<DefinitionRecord>> GetDefinitionsAsync(string workflowName, CancellationToken cancellationToken = default);
}

/// <summary>The queue as a worker sees it: claim, hold, recover.</summary>
public interface IRunQueue
{
    /// <summary>
    /// Claims up to <see cref="ClaimRequest.Limit"/> ready runs in one statement, highest priority first,
    /// then oldest; gives each claimed run a new epoch, which no other claim shares, and a lease from the store's
    /// clock. Counts the worker loss of the runs of lost claim windows first (see <see cref="OpenClaimWindowAsync"/>).
    /// </summary>
    Task<IReadOnlyList<ClaimedRun>> ClaimAsync(ClaimRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims up to <see cref="ClaimRequest.Limit"/> ready runs by row lock alone, inside a transaction that stays
    /// open until <see cref="IClaimWindow.CloseAsync"/>: the runs stay <c>pending</c> in the store meanwhile, and
    /// the close writes the outcomes of those that finished and hands the rest over as an ordinary claim would.
    /// Before returning, the store records the window's runs durably, so that a worker lost inside the window is
    /// still counted: every claim, of either kind, first counts a worker loss for the runs of windows that never
    /// committed, before it can take them again. The window's epoch is its own, never handed out again, so a
    /// holder of a window that died can write nothing once another worker has the runs. Returns null when no run was ready.
    /// </summary>
    Task<IClaimWindow?> OpenClaimWindowAsync(ClaimRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Extends the leases the worker still holds. Returns, for each run still held, whether a cancel
    /// was requested. Runs missing from the result have been taken over.
    /// </summary>
    Task<IReadOnlyDictionary<string, bool>> RenewLeasesAsync(string workerId, IReadOnlyCollection<RunLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken = default);

    /// <summary>
    /// Called as a worker starts: puts back in the queue, at once, the runs still held under <paramref name="workerId"/>,
    /// which only an earlier process under the same id can hold (it crashed or was killed), counting a worker loss for
    /// each as an expired lease does; and reports the leases other workers hold.
    /// </summary>
    Task<WorkerStartRecovery> RecoverWorkerRunsAsync(string workerId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts runs whose lease has expired back in the queue, and the runs of claim windows that never closed (a
    /// crashed worker's), counting a worker loss for each, with the attempt its claim charged given back. A run whose
    /// losses exceed its limit is failed (<c>Trellis.WorkerLossLimitExceeded</c>); one with a cancel requested is
    /// cancelled. Each loss is recorded in the run's history. Returns how many runs were recovered.
    /// </summary>
    Task<int> RecoverExpiredLeasesAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// For each of <paramref name="queues"/>, its ready runs (pending, due now): how many, and how long the oldest has been
    /// due. One query on the ready-runs index, for the queue gauges (a worker asks every few seconds while they are read).
    /// </summary>
    Task<IReadOnlyList<QueueStats>> GetQueueStatsAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken = default);
}

/// <summary>
/// Runs claimed by row lock inside an open transaction (<see cref="IRunQueue.OpenClaimWindowAsync"/>). Disposing
/// without closing rolls the claim back: the runs are ready again, with no attempt charged.
/// </summary>
public interface IClaimWindow : IAsyncDisposable
{
    /// <summary>The claimed runs, each with the epoch and attempt it will have once the window closes.</summary>
    IReadOnlyList<ClaimedRun> Runs { get; }

    /// <summary>
    /// Commits the window: writes <paramref name="finishes"/> (completed, failed, cancelled or retry, without a
    /// step to reset), hands the runs in <paramref name="promoted"/> to the worker under a lease as
    /// <see cref="IRunQueue.ClaimAsync"/> would, and leaves the other runs ready as they were. Sets
    /// <see cref="CheckpointWrite.Applied"/> on the finishes written.
    /// </summary>
    Task CloseAsync(IReadOnlyList<RunFinish> finishes, IReadOnlyCollection<string> promoted, TimeSpan leaseDuration, CancellationToken cancellationToken = default);
}

/// <summary>Checkpoints: step results, progress and run outcomes, written in batches.</summary>
public interface ICheckpointStore
{
    /// <summary>
    /// Writes the whole batch in one round trip and one transaction. Every write is fenced by its run's
    /// epoch; the store sets <see cref="CheckpointWrite.Applied"/> on those that took effect. Writing
    /// the same batch twice has the same effect as writing it once, so a batch whose commit outcome is
    /// unknown (the connection broke) can be written again.
    /// </summary>
    Task CommitAsync(CheckpointBatch batch, CancellationToken cancellationToken = default);
}

/// <summary>Wake-ups from the store (PostgreSQL LISTEN/NOTIFY).</summary>
public interface IStoreListener
{
    /// <summary>
    /// Listens until cancelled, reconnecting after failures, and reports to <paramref name="sink"/>.
    /// Returns at once when the store has no notifications (workers then rely on polling).
    /// </summary>
    Task ListenAsync(IStoreNotificationSink sink, CancellationToken cancellationToken = default);
}

/// <summary>Receives store notifications. Implementations must be quick and must not throw.</summary>
public interface IStoreNotificationSink
{
    /// <summary>Runs became ready in <paramref name="queue"/>.</summary>
    void OnWorkAvailable(string queue);

    /// <summary>A caller asked to cancel the running run <paramref name="runId"/>.</summary>
    void OnCancelRequested(string runId);

    /// <summary>Runs finished; an empty list means "some runs finished" without saying which.</summary>
    void OnRunsFinished(IReadOnlyList<string> runIds);

    /// <summary>A finished run is live again (retried or resumed): an outcome of it known before is no longer its end.</summary>
    void OnRunReopened(string runId);

    /// <summary>The listener is connected and listening (again): notifications from before may have been missed.</summary>
    void OnListening();

    /// <summary>The listener lost its connection; it reconnects.</summary>
    void OnListenerLost(Exception exception);
}

/// <summary>
/// Named leases that let one worker at a time do something: the holder takes a lease for a while, on the store's clock,
/// renews it before it runs out, and gives it up as it stops; when it dies, another takes the lease once it has run out.
/// </summary>
public interface ILeaderLeases
{
    /// <summary>
    /// Takes the lease <paramref name="name"/> for <paramref name="holder"/> (unique to one process), or renews it, for
    /// <paramref name="duration"/> from now on the store's clock: when it is free, has run out, or is held by
    /// <paramref name="holder"/> already. Returns true when <paramref name="holder"/> holds it now.
    /// </summary>
    Task<bool> TryHoldLeaderLeaseAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken = default);

    /// <summary>Gives up the lease <paramref name="name"/> if <paramref name="holder"/> holds it, so that another can take it at once.</summary>
    Task ReleaseLeaderLeaseAsync(string name, string holder, CancellationToken cancellationToken = default);
}

/// <summary>
/// The store's clock, and the runs waiting on it: a run that sleeps is <see cref="RunStatus.Waiting"/> until its
/// <c>scheduled_at</c>, a time on this clock, and is woken (made ready) once that time has come.
/// </summary>
public interface IRunTimers
{
    /// <summary>The time now on the store's clock, against which every wake-up time is set and compared.</summary>
    Task<DateTimeOffset> GetTimeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes up to <paramref name="limit"/> waiting runs whose time has come ready again (<see cref="RunStatus.Pending"/>,
    /// at their place in the queue by that time), waking their queues' workers; and says how long until the next
    /// waiting run's time, on the store's clock (<see cref="TimeSpan.Zero"/> when more are due already, null when none
    /// waits on a time). Safe to call from many workers at once: each due run is woken once. <paramref name="clockShift"/>
    /// is added to the store's clock for the comparison (zero but in tests that move the engine's clock).
    /// </summary>
    Task<WokenRuns> WakeDueRunsAsync(int limit, TimeSpan clockShift = default, CancellationToken cancellationToken = default);
}

/// <summary>
/// Events published under a name and a key, and the runs that wait for them. An event is broadcast: every wait on its
/// name and key whose "effective from" time it was published at or after receives it, each wait once, and each run
/// receives one event at most once.
/// </summary>
public interface IRunEvents
{
    /// <summary>
    /// Stores the events in one transaction, hands each open wait on their names and keys the earliest one it may
    /// receive, and makes those waits' runs ready. Returns how many waits received one now.
    /// </summary>
    Task<int> PublishEventsAsync(IReadOnlyList<NewEvent> events, CancellationToken cancellationToken = default);

    /// <summary>
    /// The run's wait at a position: an event it has received (one published at or after the wait's effective-from time
    /// that no earlier wait of the run received), or its timeout having passed; otherwise the wait stays open and the
    /// run, held by the claim <see cref="EventWait.Epoch"/>, goes to <see cref="RunStatus.Waiting"/> in the same
    /// transaction, until an event or its timeout. Asking again for the same position answers the same way.
    /// </summary>
    Task<EventWaitOutcome> WaitForEventAsync(EventWait wait, CancellationToken cancellationToken = default);
}

/// <summary>Values a run publishes under a key for callers to read: the latest per run and key.</summary>
public interface IRunValues
{
    /// <summary>Stores <paramref name="valueJson"/> under <paramref name="key"/> for the run, if the claim <paramref name="epoch"/> still holds it; false otherwise.</summary>
    Task<bool> SetValueAsync(string runId, long epoch, string key, string? valueJson, CancellationToken cancellationToken = default);

    /// <summary>The value of the run under <paramref name="key"/>, whether one was set, and whether the run has finished.</summary>
    Task<RunValue> GetValueAsync(string runId, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends to the run's stream <paramref name="key"/> at step position <paramref name="sequence"/> (again at the same
    /// position: nothing changes), a value or, with <paramref name="closes"/>, its end; if the claim <paramref name="epoch"/>
    /// still holds the run. False otherwise.
    /// </summary>
    Task<bool> AppendStreamAsync(string runId, long epoch, string key, int sequence, string? valueJson, bool closes, CancellationToken cancellationToken = default);

    /// <summary>The run's stream <paramref name="key"/> after position <paramref name="afterSequence"/>, in order, up to <paramref name="limit"/> entries.</summary>
    Task<StreamPage> ReadStreamAsync(string runId, string key, int afterSequence, int limit, CancellationToken cancellationToken = default);
}


/// <summary>
/// Runs that other runs started (<see cref="NewRun.ParentRunId"/>), and their parents' waits for them. A parent waiting
/// for children is <see cref="RunStatus.Waiting"/> until the last of them finishes, however it finishes.
/// </summary>
public interface IRunChildren
{
    /// <summary>
    /// The parent's wait for the children <see cref="ChildrenWait.ChildIds"/>: when all have finished, returns every
    /// finished child of the parent; otherwise the parent, held by the claim <see cref="ChildrenWait.Epoch"/>, goes to
    /// <see cref="RunStatus.Waiting"/> in the same transaction, and is made ready when the last of them finishes.
    /// </summary>
    Task<ChildrenWaitOutcome> WaitForChildrenAsync(ChildrenWait wait, CancellationToken cancellationToken = default);

    /// <summary>The runs <paramref name="parentRunId"/> started, in the order it started them.</summary>
    Task<IReadOnlyList<RunInfo>> GetChildrenAsync(string parentRunId, CancellationToken cancellationToken = default);
}
