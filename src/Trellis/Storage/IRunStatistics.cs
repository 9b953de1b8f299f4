namespace Trellis.Storage;

/// <summary>
/// Figures about the runs and the store, for operators: counts, table sizes, slow statements, throughput and step
/// durations. Live runs are counted in full; finished runs within a window of creation time, so that the cost follows
/// the runs in the window, not the table's size.
/// </summary>
public interface IRunStatistics
{
    /// <summary>Live runs, runs created since <paramref name="since"/> by status, each table's size, and the slowest statements.</summary>
    Task<StoreStatistics> GetStatisticsAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>Per workflow and per tag: active, completed, failed; completions per minute; step-duration percentiles.</summary>
    Task<RunAnalytics> GetAnalyticsAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>
    /// Per queue: its ready, scheduled, running and waiting runs, the age of its oldest ready run, its runs created since
    /// <paramref name="since"/> that finished by outcome and per minute, and the workers whose heartbeat is at most
    /// <paramref name="workersLiveWithin"/> old that take runs from it.
    /// </summary>
    Task<QueueReport> GetQueueReportAsync(DateTimeOffset since, TimeSpan workersLiveWithin, CancellationToken cancellationToken = default);
}

/// <summary>How many runs of a workflow are in a status.</summary>
public sealed record RunCount(string Workflow, RunStatus Status, long Count);

/// <summary>A table's size on disk (with its indexes and TOAST) and the planner's estimate of its rows.</summary>
public sealed record TableSize(string Table, long Bytes, long EstimatedRows);

/// <summary>A statement from <c>pg_stat_statements</c>: how often it ran and how long it took on average and in all.</summary>
public sealed record SlowStatement(string Query, long Calls, double MeanMs, double TotalMs);

/// <summary>The store's figures at <see cref="At"/> (the database's clock).</summary>
/// <param name="At">When the figures were made.</param>
/// <param name="Since">The start of the window the finished runs were counted in (by creation time).</param>
/// <param name="LiveRuns">Pending, running and waiting runs, by workflow and status (all of them).</param>
/// <param name="FinishedRuns">Runs created since <paramref name="Since"/> that have finished, by workflow and status.</param>
/// <param name="Tables">Each Trellis table's size.</param>
/// <param name="SlowStatements">The slowest statements on Trellis's tables by mean time, when <c>pg_stat_statements</c> is installed.</param>
/// <param name="SlowStatementsNote">Why there are none, when it is not.</param>
public sealed record StoreStatistics(
    DateTimeOffset At, DateTimeOffset Since, IReadOnlyList<RunCount> LiveRuns, IReadOnlyList<RunCount> FinishedRuns, IReadOnlyList<TableSize> Tables,
    IReadOnlyList<SlowStatement> SlowStatements, string? SlowStatementsNote);

/// <summary>Runs of one workflow (or with one tag): live now, and finished in the window by outcome.</summary>
public sealed record RunFigures(string Workflow, string? TagKey, string? TagValue, long Active, long Completed, long Failed, long Cancelled);

/// <summary>Runs of a workflow that finished in one minute of the window.</summary>
public sealed record MinuteThroughput(DateTimeOffset Minute, string Workflow, long Completed, long Failed, long Cancelled);

/// <summary>How long a workflow's step took (completed attempts of runs finished in the window), in milliseconds.</summary>
public sealed record StepDurations(string Workflow, string Step, long Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs);

/// <summary>The analytics of the runs created since <see cref="Since"/>, made at <see cref="At"/> (the database's clock).</summary>
/// <param name="At">When the figures were made.</param>
/// <param name="Since">The start of the window (by creation time).</param>
/// <param name="Workflows">Per workflow (<see cref="RunFigures.TagKey"/> null).</param>
/// <param name="Tags">Per tag key and value, across workflows (<see cref="RunFigures.Workflow"/> empty), the 100 busiest.</param>
/// <param name="Throughput">Finished runs per minute and workflow.</param>
/// <param name="Steps">Step-duration percentiles per workflow and step.</param>
public sealed record RunAnalytics(
    DateTimeOffset At, DateTimeOffset Since, IReadOnlyList<RunFigures> Workflows, IReadOnlyList<RunFigures> Tags,
    IReadOnlyList<MinuteThroughput> Throughput, IReadOnlyList<StepDurations> Steps);
