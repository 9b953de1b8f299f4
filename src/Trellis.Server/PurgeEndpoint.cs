using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Trellis.Server;

/// <summary><c>POST /api/purge</c>: deletes finished runs older than an age, now (as retention does).</summary>
internal static class PurgeEndpoint
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/purge", PurgeAsync).WithTags("Retention").RequireAuthorization(ApiPolicies.Admin)
            .WithSummary("Deletes finished runs (with their families) that finished longer ago than {olderThan: \"30d\"}, of {workflow} if given; says how many.");
    }

    private static async Task<IResult> PurgeAsync(HttpRequest request, TrellisClient client, IOptions<TrellisApiOptions> options, CancellationToken cancellationToken)
    {
        var body = await ApiJson.ReadObjectAsync(request, options.Value.MaxRequestBytes, options.Value.MaxJsonDepth);
        ApiJson.OnlyKnown(body, "olderThan", "workflow");
        var text = ApiJson.String(body, "olderThan", required: true)!;
        if (!Durations.TryParse(text, out var olderThan))
        {
            throw Problems.BadRequest($"'olderThan' must be a duration (12h, 30d), not '{text}'.");
        }

        var deleted = await client.PurgeAsync(olderThan, ApiJson.String(body, "workflow"), cancellationToken: cancellationToken);
        return ApiJson.Ok(new { deleted });
    }
}
