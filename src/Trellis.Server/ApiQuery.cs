using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Trellis.Server;

/// <summary>Query-string parameters, read strictly: an unknown name, a repeated one or a malformed value is a 400.</summary>
internal static class ApiQuery
{
    public static void OnlyKnown(IQueryCollection query, params string[] known)
    {
        foreach (var (key, values) in query)
        {
            if (!known.Contains(key, StringComparer.Ordinal))
            {
                throw Problems.BadRequest($"Unknown query parameter '{key}'; expected {string.Join(", ", known.Select(k => $"'{k}'"))}.");
            }

            if (values.Count > 1)
            {
                throw Problems.BadRequest($"Query parameter '{key}' is given more than once.");
            }
        }
    }

    public static string? String(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var values) ? (values[0] is { Length: > 0 } text ? text : throw Problems.BadRequest($"'{name}' is empty.")) : null;

    public static int? Int(IQueryCollection query, string name, int min, int max) =>
        String(query, name) is not { } text ? null
        : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
        : throw Problems.BadRequest($"'{name}' must be an integer from {min} to {max}.");

    /// <summary>An ISO 8601 time with an offset (2026-12-05T10:00:00Z), or a duration back from now (30s, 15m, 2h, 7d).</summary>
    public static DateTimeOffset? Time(IQueryCollection query, string name, TimeProvider? time = null)
    {
        if (String(query, name) is not { } text)
        {
            return null;
        }

        return Durations.TryParseTime(text, (time ?? TimeProvider.System).GetUtcNow(), out var at) ? at
            : throw Problems.BadRequest($"'{name}' must be an ISO 8601 time (2026-12-05T10:00:00Z) or a duration back from now (30s, 15m, 2h, 7d).");
    }

    public static RunStatus Status(string text) => text switch
    {
        "pending" => RunStatus.Pending,
        "running" => RunStatus.Running,
        "waiting" => RunStatus.Waiting,
        "completed" => RunStatus.Completed,
        "failed" => RunStatus.Failed,
        "cancelled" => RunStatus.Cancelled,
        _ => throw Problems.BadRequest($"'status' must be one of pending, running, waiting, completed, failed, cancelled; not '{text}'."),
    };
}

/// <summary>Durations as people type them: a whole number and a unit, s, m, h or d (30s, 15m, 2h, 30d).</summary>
public static class Durations
{
    /// <summary>Parses <paramref name="text"/>; false when it is not such a duration or is zero or over 100 years.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (text is not { Length: >= 2 and <= 12 } || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count <= 0)
        {
            return false;
        }

        var seconds = text[^1] switch { 's' => count, 'm' => count * 60, 'h' => count * 3600, 'd' => count * 86400, _ => -1L };
        if (seconds <= 0 || seconds > 100L * 365 * 86400)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(seconds);
        return true;
    }

    /// <summary>An ISO 8601 time with an offset (2026-12-05T10:00:00Z), or a duration back from <paramref name="now"/> (7d).</summary>
    public static bool TryParseTime(string? text, DateTimeOffset now, out DateTimeOffset time)
    {
        if (TryParse(text, out var ago))
        {
            time = now - ago;
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time) && text!.Length >= 10;
    }
}
