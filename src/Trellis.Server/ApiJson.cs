using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace Trellis.Server;

/// <summary>How the API writes JSON, and how it reads a request body: bounded in size and depth, parsed before anything is done.</summary>
internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>A 200 response with <paramref name="value"/> written with the API's options (the host's own JSON options are its business).</summary>
    public static IResult Ok<T>(T value) => TypedResults.Json(value, Options);

    /// <summary>
    /// The request body as a JSON object: refused with 413 past <paramref name="maxBytes"/>, 415 when it is not JSON, 400
    /// when it does not parse, nests deeper than <paramref name="maxDepth"/> or is not an object.
    /// </summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpRequest request, int maxBytes, int maxDepth, bool optional = false)
    {
        if (request.ContentLength is > 0 && request.ContentType is { } type
            && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) && !type.Contains("+json", StringComparison.OrdinalIgnoreCase))
        {
            throw new Problems.RequestException(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", "The request body must be JSON (Content-Type: application/json).");
        }

        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw TooLarge(maxBytes);
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return optional ? [] : throw Problems.BadRequest("The request needs a JSON body.");
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(buffer.ToArray(), documentOptions: new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException ex)
        {
            throw Problems.BadRequest($"The body is not valid JSON (at most {maxDepth} levels deep): {ex.Message}");
        }

        return node as JsonObject ?? throw Problems.BadRequest("The body must be a JSON object.");
    }

    /// <summary>A string member, or null when absent; refused when present with another type.</summary>
    public static string? String(JsonObject body, string name, bool required = false)
    {
        var value = body[name];
        if (value is null)
        {
            return required ? throw Problems.BadRequest($"'{name}' is required.") : null;
        }

        return value is JsonValue v && v.TryGetValue<string>(out var text) ? text : throw Problems.BadRequest($"'{name}' must be a string.");
    }

    /// <summary>An integer member, or null when absent; refused when present with another type or out of range.</summary>
    public static int? Int(JsonObject body, string name, int min = int.MinValue, int max = int.MaxValue)
    {
        var value = body[name];
        if (value is null)
        {
            return null;
        }

        if (value is not JsonValue v || !v.TryGetValue<int>(out var number))
        {
            throw Problems.BadRequest($"'{name}' must be an integer.");
        }

        return number < min || number > max ? throw Problems.BadRequest($"'{name}' must be between {min} and {max}.") : number;
    }

    /// <summary>A duration member in seconds (a positive number), or null when absent.</summary>
    public static TimeSpan? Seconds(JsonObject body, string name)
    {
        var value = body[name];
        if (value is null)
        {
            return null;
        }

        if (value is not JsonValue v || !v.TryGetValue<double>(out var seconds) || !double.IsFinite(seconds) || seconds < 0 || seconds > 100 * 365 * 86400.0)
        {
            throw Problems.BadRequest($"'{name}' must be a number of seconds from 0 to 100 years.");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>A map of string to string, or null when absent.</summary>
    public static Dictionary<string, string>? StringMap(JsonObject body, string name)
    {
        var value = body[name];
        if (value is null)
        {
            return null;
        }

        if (value is not JsonObject map)
        {
            throw Problems.BadRequest($"'{name}' must be an object of strings.");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, item) in map)
        {
            result[key] = item is JsonValue v && v.TryGetValue<string>(out var text) ? text : throw Problems.BadRequest($"'{name}.{key}' must be a string.");
        }

        return result;
    }

    /// <summary>Refuses members the endpoint does not know: a typo must not be ignored silently.</summary>
    public static void OnlyKnown(JsonObject body, params string[] known)
    {
        foreach (var (key, _) in body)
        {
            if (!known.Contains(key, StringComparer.Ordinal))
            {
                throw Problems.BadRequest($"Unknown member '{key}'; expected {string.Join(", ", known.Select(k => $"'{k}'"))}.");
            }
        }
    }

    private static Problems.RequestException TooLarge(int maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"The request body is larger than {maxBytes} bytes.");
}
