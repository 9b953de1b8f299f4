using System.Text.RegularExpressions;

namespace Trellis;

/// <summary>
/// What a run id and a queue name may be, checked the same way by every call that takes one, before anything reaches
/// the store: a bad one is an <see cref="ArgumentException"/> that says what is allowed, never a database error.
/// </summary>
public static partial class Names
{
    /// <summary>Longest run id.</summary>
    public const int MaxRunIdLength = 255;

    /// <summary>Longest queue name.</summary>
    public const int MaxQueueLength = 128;

    /// <summary>A run id: 1–255 characters, without control characters (U+0000 among them) or surrounding spaces.</summary>
    public static bool IsValidRunId(string? runId) =>
        runId is { Length: > 0 and <= MaxRunIdLength } && !runId.Any(char.IsControl) && runId.Trim().Length == runId.Length;

    /// <summary>A queue name: 1–128 letters, digits and <c>. _ - : /</c>, starting with a letter or digit.</summary>
    public static bool IsValidQueue(string? queue) => queue is { Length: > 0 and <= MaxQueueLength } && QueuePattern().IsMatch(queue);

    /// <summary>Throws an <see cref="ArgumentException"/> for <paramref name="parameterName"/> unless <paramref name="runId"/> is a valid run id.</summary>
    public static void CheckRunId(string? runId, string parameterName)
    {
        if (!IsValidRunId(runId))
        {
            throw new ArgumentException(
                $"'{Printable(runId)}' is not a run id: a run id is 1–{MaxRunIdLength} characters, without control characters or surrounding spaces.",
                parameterName);
        }
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="owner"/> unless <paramref name="queue"/> is a valid queue name.</summary>
    public static void CheckQueue(string? queue, string owner)
    {
        if (!IsValidQueue(queue))
        {
            throw new ArgumentException(
                $"{owner}: '{Printable(queue)}' is not a queue name: a queue name is 1–{MaxQueueLength} letters, digits and . _ - : /, "
                + "starting with a letter or digit.");
        }
    }

    /// <summary>The value as a message can show it: control characters escaped, and cut short when long.</summary>
    private static string Printable(string? value)
    {
        if (value is null)
        {
            return "(null)";
        }

        var shown = value.Length > 80 ? value[..80] + "…" : value;
        return string.Concat(shown.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:/-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex QueuePattern();
}
