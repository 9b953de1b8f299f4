using System.Text.Json;

namespace Trellis;

/// <summary>Settings shared by the client and the worker.</summary>
public sealed class TrellisOptions
{
    /// <summary>The default of <see cref="MaxWorkerLosses"/>.</summary>
    public const int DefaultMaxWorkerLosses = 50;

    /// <summary>The queue runs go to when <see cref="StartOptions.Queue"/> is not set.</summary>
    public string DefaultQueue { get; set; } = "default";

    /// <summary>Largest accepted run input, in UTF-8 bytes of its JSON. Default 1 MiB.</summary>
    public int MaxInputBytes { get; set; } = 1024 * 1024;

    /// <summary>Retry policy of steps that do not set their own. Default: <see cref="RetryPolicy.Default"/>.</summary>
    public RetryPolicy StepRetry { get; set; } = new(); // not RetryPolicy.Default itself: binding configuration writes into this instance

    /// <summary>
    /// Retry policy of whole runs. Steps carry the retries (<see cref="StepRetry"/>); by default a run is not retried:
    /// an exception that escapes the workflow fails it. With more than one attempt, a run attempt that fails with a
    /// transient or unclassified error goes back to the queue after the policy's delay, and resumes from its
    /// checkpoints (completed steps are not repeated) until <see cref="RetryPolicy.MaxAttempts"/> is used up. A step
    /// that failed for good still fails the run at once, unless <see cref="RetryFailedStepsOnRunRetry"/>. An attempt
    /// cut short by a worker loss does not count (see <see cref="MaxWorkerLosses"/>). Default: 1 attempt; the
    /// delays, when attempts are raised, 5 s then 10 s, at most 5 min.
    /// </summary>
    public RetryPolicy RunRetry { get; set; } = new() { MaxAttempts = 1, InitialDelay = TimeSpan.FromSeconds(5), MaxDelay = TimeSpan.FromMinutes(5) };

    /// <summary>
    /// Whether a run retry runs again a step that failed for good (used up its attempts, or failed permanently in a
    /// way the run policy still retries), with its attempts counted anew. Off by default: step attempts and run
    /// attempts would multiply, and a run whose step failed for good fails at once, since a retry would only replay
    /// the stored failure.
    /// </summary>
    public bool RetryFailedStepsOnRunRetry { get; set; }

    /// <summary>
    /// Worker losses a run survives, for runs whose workflow and start options set none. A worker loss is a worker
    /// that died, froze past its lease or lost its claim window while it held the run; it is not the workflow's
    /// error, so it does not use up an attempt: the run goes back to the queue and resumes after its last
    /// checkpoint. One loss more than this fails the run with the error type <c>Trellis.WorkerLossLimitExceeded</c>
    /// (a run that kills every worker that takes it must stop somewhere); its checkpoints are kept, and
    /// <c>ResumeAsync</c> resumes it. A graceful shutdown is no loss. Default 50.
    /// </summary>
    public int MaxWorkerLosses { get; set; } = DefaultMaxWorkerLosses;

    /// <summary>Run the store's migrations when the engine starts. Default true.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>How (de)serialization of inputs, step results and outputs is done. Default: web defaults.</summary>
    public JsonSerializerOptions? JsonSerializerOptions { get; set; }

    /// <summary>
    /// While a caller awaits a result, the store is re-checked this often in case a completion
    /// notification was missed (notifications wake the caller at once otherwise). Default 1 s.
    /// </summary>
    public TimeSpan ResultPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The worker's settings.</summary>
    public WorkerOptions Worker { get; } = new();

    /// <summary>How long finished runs are kept. Default: forever (see <see cref="RetentionOptions"/>).</summary>
    public RetentionOptions Retention { get; } = new();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that cannot work, the worker's included.</summary>
    public void Validate()
    {
        Names.CheckQueue(DefaultQueue, "TrellisOptions.DefaultQueue");

        if (MaxInputBytes < 16)
        {
            throw new ArgumentException($"TrellisOptions.MaxInputBytes must be at least 16 (was {MaxInputBytes}).");
        }

        if (ResultPollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("TrellisOptions.ResultPollInterval must be positive.");
        }

        if (MaxWorkerLosses < 0)
        {
            throw new ArgumentException($"TrellisOptions.MaxWorkerLosses must be 0 or more (was {MaxWorkerLosses}).");
        }

        StepRetry.Validate("TrellisOptions.StepRetry");
        RunRetry.Validate("TrellisOptions.RunRetry");
        Worker.Validate();
        Retention.Validate();
    }
}

/// <summary>Settings of the worker that claims and executes runs.</summary>
public sealed class WorkerOptions
{
    /// <summary>Whether this process executes runs. A client-only process sets it to false. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The worker's name in <c>runs.locked_by</c>. Default: host name, process id and a random suffix. Set a stable
    /// one (a pod or service instance name) to have a restarted worker take up at once the runs its crashed
    /// predecessor held, instead of after their leases: a worker starting under an id puts that id's runs back in the
    /// queue. So two live workers must never share an id.
    /// </summary>
    public string WorkerId { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>The queues this worker serves. Default: the default queue.</summary>
    public IList<string> Queues { get; set; } = [];

    /// <summary>Runs executed at the same time (slots). Default 32.</summary>
    public int MaxConcurrentRuns { get; set; } = 32;

    /// <summary>Most runs claimed by one claim statement. Default 32.</summary>
    public int ClaimBatchSize { get; set; } = 32;

    /// <summary>
    /// How long a claim window may stay open. With a window, the worker claims runs by row lock inside a
    /// transaction and keeps it open while they execute; runs that finish in it without writing a step or
    /// progress get their outcomes written in that same transaction, which spares the store one write per run
    /// (the claim). The window closes when all its runs have finished, when one of them writes anything else,
    /// or after this long, whichever comes first; runs still executing then are held under a lease as usual.
    /// Meanwhile its runs still read as <c>pending</c>, and the outcome of a run that finished waits for the
    /// window to close (never longer than this). <see cref="TimeSpan.Zero"/> claims with a lease at once.
    /// Default 50 ms; must be under half of <see cref="LeaseDuration"/>.
    /// </summary>
    public TimeSpan ClaimWindow { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How often the queue is polled when no notification arrives. Default 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a claim is valid without a heartbeat. Default 30 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often leases are renewed. Default: a third of <see cref="LeaseDuration"/>.</summary>
    public TimeSpan? HeartbeatInterval { get; set; }

    /// <summary>
    /// How often expired leases are looked for. Default: a sixth of <see cref="LeaseDuration"/> (5 s for the
    /// default lease) and never less than <see cref="PollInterval"/>. A crashed worker's runs are back in
    /// the queue within about the lease plus this interval.
    /// </summary>
    public TimeSpan? LeaseRecoveryInterval { get; set; }

    /// <summary>On shutdown, how long in-flight runs may take to finish before they are released. Default 30 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A step that runs longer than this gets a <c>running</c> row, so it can be seen in flight.
    /// Quicker steps are written once, when they complete. Default 250 ms.
    /// </summary>
    public TimeSpan StepStartRecordDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Most checkpoint writes sent to the store in one round trip. Default 1,000.</summary>
    public int MaxCheckpointBatch { get; set; } = 1000;

    /// <summary>
    /// Checkpoint batches that may be in flight at once. Each run always writes through the same lane,
    /// so its writes stay in order. Default 1: one lane makes the largest batches, and on a machine with
    /// few cores a second lane costs more CPU than it saves waiting. More lanes can help when commits are slow
    /// relative to the CPU (a remote database).
    /// </summary>
    public int CheckpointLanes { get; set; } = 1;

    /// <summary>
    /// A sleep (<see cref="WorkflowContext.SleepAsync"/>) this short or shorter waits on the worker, in the run's slot:
    /// leaving and coming back through the store would cost more than it saves, and a crash during it makes it start
    /// over. A longer one leaves the worker: the run waits in the store, holding no slot and no memory, and whichever
    /// worker is alive wakes it. Default 1 s; <see cref="TimeSpan.Zero"/> makes every sleep leave the worker.
    /// </summary>
    public TimeSpan MaxSleepOnWorker { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the worker reads the depth and lag of its queues for the gauges <c>trellis.queue.depth</c> and
    /// <c>trellis.queue.lag</c> (one indexed query), while a metrics listener reads them; never otherwise. Default 10 s.
    /// </summary>
    public TimeSpan QueueMetricsInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the worker records itself in the store's <c>workers</c> table (its slots, the runs it executes): what
    /// <c>/health</c>, the API and the dashboard show as live workers; one missing three beats in a row is no longer live.
    /// Default 5 s.
    /// </summary>
    public TimeSpan WorkerHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    internal TimeSpan EffectiveHeartbeatInterval => HeartbeatInterval ?? LeaseDuration / 3;

    internal TimeSpan EffectiveLeaseRecoveryInterval => LeaseRecoveryInterval ?? (LeaseDuration / 6 > PollInterval ? LeaseDuration / 6 : PollInterval);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(WorkerId))
        {
            throw new ArgumentException("WorkerOptions.WorkerId must not be empty.");
        }

        if (MaxConcurrentRuns < 1)
        {
            throw new ArgumentException($"WorkerOptions.MaxConcurrentRuns must be at least 1 (was {MaxConcurrentRuns}).");
        }

        if (ClaimBatchSize < 1)
        {
            throw new ArgumentException($"WorkerOptions.ClaimBatchSize must be at least 1 (was {ClaimBatchSize}).");
        }

        if (PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("WorkerOptions.PollInterval must be positive.");
        }

        if (LeaseDuration < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"WorkerOptions.LeaseDuration must be at least 1 s (was {LeaseDuration}).");
        }

        if (EffectiveHeartbeatInterval <= TimeSpan.Zero || EffectiveHeartbeatInterval >= LeaseDuration)
        {
            throw new ArgumentException("WorkerOptions.HeartbeatInterval must be positive and shorter than LeaseDuration.");
        }

        if (ClaimWindow < TimeSpan.Zero || ClaimWindow >= LeaseDuration / 2)
        {
            throw new ArgumentException($"WorkerOptions.ClaimWindow must be at least zero and under half of LeaseDuration (was {ClaimWindow}).");
        }

        if (MaxCheckpointBatch < 1)
        {
            throw new ArgumentException("WorkerOptions.MaxCheckpointBatch must be at least 1.");
        }

        if (MaxSleepOnWorker < TimeSpan.Zero)
        {
            throw new ArgumentException($"WorkerOptions.MaxSleepOnWorker must not be negative (was {MaxSleepOnWorker}).");
        }

        if (WorkerHeartbeatInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"WorkerOptions.WorkerHeartbeatInterval must be positive (was {WorkerHeartbeatInterval}).");
        }

        if (QueueMetricsInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"WorkerOptions.QueueMetricsInterval must be positive (was {QueueMetricsInterval}).");
        }

        if (CheckpointLanes is < 1 or > 64)
        {
            throw new ArgumentException($"WorkerOptions.CheckpointLanes must be between 1 and 64 (was {CheckpointLanes}).");
        }

        foreach (var queue in Queues)
        {
            Names.CheckQueue(queue, "WorkerOptions.Queues");
        }
    }
}
