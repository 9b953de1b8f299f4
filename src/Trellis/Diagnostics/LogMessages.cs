using Microsoft.Extensions.Logging;

namespace Trellis.Diagnostics;

/// <summary>Every log line of the engine, source-generated, with stable event ids.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(1000, LogLevel.Information, "Worker {WorkerId} started: queues {Queues}, {Slots} slots, lease {Lease}")]
    public static partial void WorkerStarted(this ILogger logger, string workerId, string queues, int slots, TimeSpan lease);

    [LoggerMessage(1001, LogLevel.Information, "Worker {WorkerId} stopping: {InFlight} run(s) in flight")]
    public static partial void WorkerStopping(this ILogger logger, string workerId, int inFlight);

    [LoggerMessage(1002, LogLevel.Information, "Worker {WorkerId} stopped")]
    public static partial void WorkerStopped(this ILogger logger, string workerId);

    [LoggerMessage(1003, LogLevel.Warning, "Worker {WorkerId}: shutdown timeout reached; releasing {Count} run(s) back to the queue")]
    public static partial void ReleasingOnShutdown(this ILogger logger, string workerId, int count);

    [LoggerMessage(1060, LogLevel.Warning, "The database cannot be reached, or refuses work for now ({Error}, while {What}); Trellis keeps running and tries again, backing off, and logs when it answers again")]
    public static partial void StoreDown(this ILogger logger, Exception exception, string what, string error);

    [LoggerMessage(1061, LogLevel.Debug, "Still no database ({Error}, while {What})")]
    public static partial void StoreStillDown(this ILogger logger, string what, string error);

    [LoggerMessage(1062, LogLevel.Information, "The database answers again after {Duration}; {Covered} failed call(s) meanwhile were not logged one by one")]
    public static partial void StoreBack(this ILogger logger, TimeSpan duration, int covered);

    [LoggerMessage(1010, LogLevel.Warning, "Claiming runs failed ({Error}); retrying in {Delay}")]
    private static partial void ClaimFailedCore(this ILogger logger, Exception? exception, TimeSpan delay, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void ClaimFailed(this ILogger logger, Exception exception, TimeSpan delay) =>
        logger.ClaimFailedCore(StackAtDebug(logger, exception), delay, Describe(exception));

    [LoggerMessage(1011, LogLevel.Warning, "Renewing leases failed ({Consecutive} in a row): {Error}")]
    private static partial void HeartbeatFailedCore(this ILogger logger, Exception? exception, int consecutive, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void HeartbeatFailed(this ILogger logger, Exception exception, int consecutive) =>
        logger.HeartbeatFailedCore(StackAtDebug(logger, exception), consecutive, Describe(exception));

    [LoggerMessage(1012, LogLevel.Warning, "Could not renew leases for longer than the lease duration; abandoning {Count} run(s)")]
    public static partial void LeasesPresumedLost(this ILogger logger, int count);

    [LoggerMessage(1013, LogLevel.Information, "Recovered {Count} run(s) whose lease had expired or whose claim window was never closed")]
    public static partial void LeasesRecovered(this ILogger logger, int count);

    [LoggerMessage(1016, LogLevel.Warning, "Worker {WorkerId} started under the id of an earlier process that held {Count} run(s): they are back in the queue now, one worker loss each")]
    public static partial void OwnRunsRecovered(this ILogger logger, int count, string workerId);

    [LoggerMessage(1017, LogLevel.Information, "{Held} run(s) are held by other workers' leases, {Expired} of them expired (recovered now); if their workers are gone, the rest are taken up once the leases run out, by {LatestLeaseEnd:u} at the latest")]
    public static partial void LeaseBacklog(this ILogger logger, int held, int expired, DateTimeOffset? latestLeaseEnd);

    [LoggerMessage(1014, LogLevel.Warning, "Maintenance ({Service}) failed: {Error}; tried again next round")]
    private static partial void MaintenanceFailedCore(this ILogger logger, Exception? exception, string service, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void MaintenanceFailed(this ILogger logger, Exception exception, string service) =>
        logger.MaintenanceFailedCore(StackAtDebug(logger, exception), service, Describe(exception));

    [LoggerMessage(1054, LogLevel.Information, "This process ({Holder}) holds the leader lease '{Name}': the services that run on one worker at a time run here")]
    public static partial void LeaderLeaseTaken(this ILogger logger, string name, string holder);

    [LoggerMessage(1055, LogLevel.Warning, "This process ({Holder}) lost the leader lease '{Name}' to another worker")]
    public static partial void LeaderLeaseLost(this ILogger logger, string name, string holder);

    [LoggerMessage(1056, LogLevel.Debug, "Woke {Count} sleeping run(s) whose time had come")]
    public static partial void RunsWoken(this ILogger logger, int count);

    [LoggerMessage(1057, LogLevel.Debug, "Run {RunId} left its worker to wait: {Reason}")]
    public static partial void RunSuspended(this ILogger logger, string runId, string? reason);

    [LoggerMessage(1015, LogLevel.Debug, "Claimed {Claimed} of {Requested} run(s)")]
    public static partial void Claimed(this ILogger logger, int claimed, int requested);

    [LoggerMessage(1020, LogLevel.Debug, "Run {RunId} ({Workflow} v{Version}) claimed, epoch {Epoch}, attempt {Attempt}")]
    public static partial void RunClaimed(this ILogger logger, string runId, string workflow, int version, long epoch, int attempt);

    [LoggerMessage(1021, LogLevel.Debug, "Run {RunId} completed")]
    public static partial void RunCompleted(this ILogger logger, string runId);

    [LoggerMessage(1022, LogLevel.Warning, "Run {RunId} attempt {Attempt} failed ({Error}); retrying in {Delay}")]
    private static partial void RunAttemptFailedCore(this ILogger logger, Exception? exception, string runId, int attempt, TimeSpan delay, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void RunAttemptFailed(this ILogger logger, Exception exception, string runId, int attempt, TimeSpan delay) =>
        logger.RunAttemptFailedCore(StackAtDebug(logger, exception), runId, attempt, delay, Describe(exception));

    [LoggerMessage(1023, LogLevel.Error, "Run {RunId} failed after {Attempt} attempt(s)")]
    public static partial void RunFailed(this ILogger logger, Exception exception, string runId, int attempt);

    [LoggerMessage(1024, LogLevel.Information, "Run {RunId} cancelled")]
    public static partial void RunCancelled(this ILogger logger, string runId);

    [LoggerMessage(1058, LogLevel.Warning, "Run {RunId} failed: its deadline (StartOptions.Timeout) passed before it finished")]
    public static partial void RunTimedOut(this ILogger logger, string runId);

    [LoggerMessage(1064, LogLevel.Warning, "Run {RunId} timed out, and its children that follow its cancel could not be cancelled; they run on (cancel them with CancelAsync)")]
    public static partial void TimedOutChildrenNotCancelled(this ILogger logger, Exception exception, string runId);

    [LoggerMessage(1025, LogLevel.Warning, "Run {RunId}: lease lost (epoch {Epoch}); another worker owns it now, abandoning")]
    public static partial void RunLeaseLost(this ILogger logger, string runId, long epoch);

    [LoggerMessage(1063, LogLevel.Debug, "Run {RunId} (epoch {Epoch}) given up during the database outage; it resumes from its checkpoints once the database is back")]
    public static partial void RunGivenUpInOutage(this ILogger logger, string runId, long epoch);

    [LoggerMessage(1026, LogLevel.Information, "Run {RunId} released back to the queue")]
    public static partial void RunReleased(this ILogger logger, string runId);

    [LoggerMessage(1027, LogLevel.Error, "Run {RunId} could not be finished in the store")]
    public static partial void RunFinishFailed(this ILogger logger, Exception exception, string runId);

    [LoggerMessage(1029, LogLevel.Warning, "Run {RunId}: this worker's hold is older than its lease and the store could not confirm it ({Error}); nothing of the run starts until it does (retrying in {Delay})")]
    private static partial void HoldConfirmFailedCore(this ILogger logger, Exception? exception, string runId, TimeSpan delay, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void HoldConfirmFailed(this ILogger logger, Exception exception, string runId, TimeSpan delay) =>
        logger.HoldConfirmFailedCore(StackAtDebug(logger, exception), runId, delay, Describe(exception));

    [LoggerMessage(1028, LogLevel.Debug, "Run {RunId} given back to the queue before it began: starts in this process took the worker's free slots while the claim was in flight")]
    public static partial void RunGivenBackOverLimit(this ILogger logger, string runId);

    [LoggerMessage(1030, LogLevel.Warning, "Step '{Step}' of run {RunId} attempt {Attempt} failed ({Error}); retrying in {Delay}")]
    private static partial void StepAttemptFailedCore(this ILogger logger, Exception? exception, string runId, string step, int attempt, TimeSpan delay, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void StepAttemptFailed(this ILogger logger, Exception exception, string runId, string step, int attempt, TimeSpan delay) =>
        logger.StepAttemptFailedCore(StackAtDebug(logger, exception), runId, step, attempt, delay, Describe(exception));

    [LoggerMessage(1042, LogLevel.Error, "Closing a claim window failed ({Finished} outcome(s), {Promoted} run(s) to hold under a lease); those runs are abandoned here and recovered from the store")]
    public static partial void ClaimWindowCloseFailed(this ILogger logger, Exception exception, int finished, int promoted);

    [LoggerMessage(1040, LogLevel.Warning, "Writing {Count} checkpoint(s) failed with a transient error ({Error}); retrying in {Delay}")]
    private static partial void CheckpointRetryCore(this ILogger logger, Exception? exception, int count, TimeSpan delay, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void CheckpointRetry(this ILogger logger, Exception exception, int count, TimeSpan delay) =>
        logger.CheckpointRetryCore(StackAtDebug(logger, exception), count, delay, Describe(exception));

    [LoggerMessage(1041, LogLevel.Error, "Writing checkpoints of run {RunId} failed")]
    public static partial void CheckpointFailed(this ILogger logger, Exception exception, string runId);

    [LoggerMessage(1050, LogLevel.Information, "Listening for notifications")]
    public static partial void Listening(this ILogger logger);

    [LoggerMessage(1051, LogLevel.Warning, "Notification listener lost its connection ({Error}); polling covers the gap until it is back")]
    private static partial void ListenerLostCore(this ILogger logger, Exception? exception, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void ListenerLost(this ILogger logger, Exception exception) =>
        logger.ListenerLostCore(StackAtDebug(logger, exception), Describe(exception));

    [LoggerMessage(1052, LogLevel.Warning, "Checking awaited runs failed: {Error}")]
    private static partial void ResultPollFailedCore(this ILogger logger, Exception? exception, string error);

    /// <summary>Something failed and is tried again: the warning names the error; its stack comes only at Debug.</summary>
    public static void ResultPollFailed(this ILogger logger, Exception exception) =>
        logger.ResultPollFailedCore(StackAtDebug(logger, exception), Describe(exception));

    [LoggerMessage(1053, LogLevel.Debug, "Warming up the start path failed; the first start pays for it instead")]
    public static partial void WarmUpFailed(this ILogger logger, Exception exception);

    /// <summary>The exception to attach to a warning about something retried: with its stack only when Debug is on.</summary>
    private static Exception? StackAtDebug(ILogger logger, Exception exception) => logger.IsEnabled(LogLevel.Debug) ? exception : null;

    private static string Describe(Exception exception) => $"{exception.GetType().Name}: {exception.Message}";
}
