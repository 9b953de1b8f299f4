using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Trellis.Server;

/// <summary>Publishing events: one, or many in one transaction.</summary>
internal static class EventEndpoints
{
    private const int MaxEventsPerCall = 1000;

    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/events", PublishAsync).WithTags("Events").RequireAuthorization(ApiPolicies.Admin)
            .WithSummary("Publishes an event ({name, key, data}) or many ({events: [...]}, all or none); says how many waiting runs received one now.");
    }

    private static async Task<IResult> PublishAsync(HttpRequest request, TrellisClient client, IOptions<TrellisApiOptions> options, CancellationToken cancellationToken)
    {
        var body = await ApiJson.ReadObjectAsync(request, options.Value.MaxRequestBytes, options.Value.MaxJsonDepth);
        List<EventToPublish> events;
        if (body["events"] is { } many)
        {
            ApiJson.OnlyKnown(body, "events");
            if (many is not JsonArray array || array.Count is 0 or > MaxEventsPerCall)
            {
                throw Problems.BadRequest($"'events' must be an array of 1 to {MaxEventsPerCall} events.");
            }

            events = [.. array.Select((e, i) => e is JsonObject one ? Event(one) : throw Problems.BadRequest($"'events[{i}]' must be an object."))];
        }
        else
        {
            events = [Event(body)];
        }

        var delivered = await client.PublishEventsAsync(events, cancellationToken);
        return ApiJson.Ok(new { published = events.Count, delivered });
    }

    private static EventToPublish Event(JsonObject body)
    {
        ApiJson.OnlyKnown(body, "name", "key", "data");
        var name = ApiJson.String(body, "name", required: true)!;
        var key = ApiJson.String(body, "key", required: true)!;
        if (name.Length is 0 or > 200 || key.Length is 0 or > 200)
        {
            throw Problems.BadRequest("An event's 'name' and 'key' must be 1 to 200 characters.");
        }

        return new EventToPublish(name, key, body["data"]?.DeepClone());
    }
}
