using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Trellis.Server;

/// <summary><c>GET /api/stats</c>, <c>/api/analytics</c>, <c>/api/queues</c> and <c>/api/workers</c>.</summary>
internal static class StatisticsEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/stats", StatsAsync).WithTags("Statistics").RequireAuthorization(ApiPolicies.Read)
            .WithSummary("Live runs by workflow and status, runs created in the window (?window=1h) by status, table sizes, slow statements.");
        api.MapGet("/queues", QueuesAsync).WithTags("Queues").RequireAuthorization(ApiPolicies.Read)
            .WithSummary("Per queue: ready (depth), scheduled, running and waiting runs, the oldest ready run's age, finished runs by outcome and per minute over ?window=1h, live workers and their slots.");
        api.MapGet("/workers", WorkersAsync).WithTags("Workers").RequireAuthorization(ApiPolicies.Read)
            .WithSummary("The live workers: host, process, queues, slots, runs in flight, last heartbeat.");
        api.MapGet("/analytics", AnalyticsAsync).WithTags("Statistics").RequireAuthorization(ApiPolicies.Read)
            .WithSummary("Per workflow and tag: active, completed, failed; completions per minute; step-duration percentiles, over ?window=1h.");
    }

    private static async Task<IResult> StatsAsync(HttpRequest request, TrellisClient client, CancellationToken cancellationToken) =>
        ApiJson.Ok(await client.GetStatisticsAsync(Window(request), cancellationToken));

    private static async Task<IResult> WorkersAsync(HttpRequest request, TrellisClient client, CancellationToken cancellationToken)
    {
        ApiQuery.OnlyKnown(request.Query);
        return ApiJson.Ok(await client.GetWorkersAsync(cancellationToken: cancellationToken));
    }

    private static async Task<IResult> AnalyticsAsync(HttpRequest request, TrellisClient client, CancellationToken cancellationToken) =>
        ApiJson.Ok(await client.GetAnalyticsAsync(Window(request), cancellationToken));

    private static async Task<IResult> QueuesAsync(HttpRequest request, TrellisClient client, CancellationToken cancellationToken) =>
        ApiJson.Ok(QueueReportView.Of(await client.GetQueueReportAsync(Window(request), cancellationToken)));

    private static TimeSpan? Window(HttpRequest request)
    {
        ApiQuery.OnlyKnown(request.Query, "window");
        if (ApiQuery.String(request.Query, "window") is not { } text)
        {
            return null;
        }

        return Durations.TryParse(text, out var window) && window <= TrellisClient.MaxStatisticsWindow
            ? window
            : throw Problems.BadRequest($"'window' must be a duration up to {TrellisClient.MaxStatisticsWindow.TotalDays:0}d (30m, 6h, 7d).");
    }
}
