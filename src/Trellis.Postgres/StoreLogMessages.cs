using Microsoft.Extensions.Logging;

namespace Trellis.Postgres;

/// <summary>The store's own log lines, source-generated; event ids 1100 and up (the engine's are 1000–1099).</summary>
internal static partial class StoreLogMessages
{
    [LoggerMessage(1100, LogLevel.Warning, "Counted a worker loss for {Count} run(s) of claim windows that never closed (their worker stopped or lost its connection); they are ready again, except a run over its MaxWorkerLosses, which failed with Trellis.WorkerLossLimitExceeded")]
    public static partial void LostWindowsCharged(this ILogger logger, long count);

    [LoggerMessage(1101, LogLevel.Warning, "The NpgsqlDataSource shared with Trellis runs with plan_cache_mode = {Mode}: PostgreSQL may re-plan Trellis's statements on every execution once its tables have grown. Add \"Options=-c plan_cache_mode=force_generic_plan\" to that data source's connection string, or give Trellis a connection string of its own (README, Configuration)")]
    public static partial void SharedDataSourceReplans(this ILogger logger, string mode);
}
