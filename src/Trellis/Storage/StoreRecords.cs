namespace Trellis.Storage;

/// <summary>
/// A run to create. It becomes ready at <see cref="ScheduledAt"/> if set, otherwise after
/// <see cref="Delay"/> (or at once) measured on the store's clock.
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
    TimeSpan? Delay = null);

/// <summary>Many runs of one workflow with the same settings; only their ids and inputs differ.</summary>
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
    TimeSpan? Delay);

/// <summary>The stored run, and whether this call created it.</summary>
public sealed record CreateRunResult(RunInfo Run, bool Created);

/// <summary>A workflow name and version a worker can run.</summary>
public readonly record struct WorkflowKey(string Name, int Version);

/// <summary>A workflow definition as recorded in the store.</summary>
public sealed record DefinitionRecord(string Name, int Version, string InputType, string OutputType);

public sealed record ClaimRequest(
    string WorkerId,
    IReadOnlyList<string> Queues,
    IReadOnlyList<WorkflowKey> Workflows,
    int Limit,
    TimeSpan LeaseDuration);

/// <summary>A run handed to a worker, with the epoch that fences its writes.</summary>
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
    IReadOnlyDictionary<string, string> Tags);

/// <summary>A run a worker holds, and the epoch it holds it under.</summary>
public readonly record struct RunLease(string RunId, long Epoch);
