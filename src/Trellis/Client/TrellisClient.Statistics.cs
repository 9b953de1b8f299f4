using Trellis.Storage;

namespace Trellis;

public sealed partial class TrellisClient
{
    /// <summary>The longest window the figures may cover: a longer one would read too many runs to answer quickly.</summary>
    public static readonly TimeSpan MaxStatisticsWindow = TimeSpan.FromDays(31);

    /// <summary>
    /// The store's figures: every live run by workflow and status, the runs created in the last <paramref name="window"/>
    /// (default 1 hour) that finished, by status, each table's size, and the slowest statements when
    /// <c>pg_stat_statements</c> is installed (a note says how to install it when it is not).
    /// </summary>
    public Task<StoreStatistics> GetStatisticsAsync(TimeSpan? window = null, CancellationToken cancellationToken = default) =>
        _store.GetStatisticsAsync(Since(window), cancellationToken);

    /// <summary>
    /// Per workflow and per tag, the runs active now and those created in the last <paramref name="window"/> (default 1
    /// hour) that completed, failed or were cancelled; their completions per minute; and each step's duration percentiles.
    /// </summary>
    public Task<RunAnalytics> GetAnalyticsAsync(TimeSpan? window = null, CancellationToken cancellationToken = default) =>
        _store.GetAnalyticsAsync(Since(window), cancellationToken);

    /// <summary>
    /// Every queue with live runs, with runs created in the last <paramref name="window"/> (default 1 hour) that finished,
    /// or with a live worker: its depth (ready runs) and the age of its oldest ready run, its scheduled, running and
    /// waiting runs, its finished runs by outcome and per minute, and the live workers that take runs from it.
    /// </summary>
    public Task<QueueReport> GetQueueReportAsync(TimeSpan? window = null, CancellationToken cancellationToken = default) =>
        _store.GetQueueReportAsync(Since(window), Maintenance.WorkerBeat.LiveWithin(_options.Worker), cancellationToken);

    /// <summary>
    /// The workers that recorded themselves in the store and are live: their heartbeat (every
    /// <see cref="WorkerOptions.WorkerHeartbeatInterval"/>) is at most <paramref name="within"/> old (default 15 s), and
    /// they have not stopped. With each its host, process, queues, slots, runs in flight and last heartbeat.
    /// </summary>
    public Task<IReadOnlyList<WorkerInfo>> GetWorkersAsync(TimeSpan? within = null, CancellationToken cancellationToken = default) =>
        _store.GetLiveWorkersAsync(within ?? Maintenance.WorkerBeat.LiveWithin(_options.Worker), cancellationToken);

    private static DateTimeOffset Since(TimeSpan? window)
    {
        var span = window ?? TimeSpan.FromHours(1);
        if (span <= TimeSpan.Zero || span > MaxStatisticsWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(window), span, $"The window must be positive and at most {MaxStatisticsWindow.TotalDays} days.");
        }

        return DateTimeOffset.UtcNow - span;
    }
}
