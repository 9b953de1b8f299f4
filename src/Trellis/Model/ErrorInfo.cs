using System.Text.Json.Serialization;

namespace Trellis;

/// <summary>
/// An error as Trellis stores it (<c>runs.error</c>, <c>steps.error</c>, <c>steps.attempt_errors</c>):
/// the exception type, its message, the stack trace and the attempt it ended.
/// </summary>
public sealed record ErrorInfo(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("stack")] string? StackTrace,
    [property: JsonPropertyName("attempt")] int Attempt)
{
    /// <summary>Whether the error was classified as permanent (not worth retrying).</summary>
    [JsonPropertyName("permanent")]
    public bool Permanent { get; init; }

    /// <summary>When the attempt failed (the worker's clock); null in errors stored before it was recorded.</summary>
    [JsonPropertyName("at")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? At { get; init; }

    /// <summary>The error of an exception, as it is stored: its type's full name, its message, its full text with the stack, the attempt and whether it is permanent.</summary>
    public static ErrorInfo FromException(Exception exception, int attempt, bool permanent = false)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new ErrorInfo(
            exception.GetType().FullName ?? exception.GetType().Name,
            StorableText(exception.Message),
            StorableText(exception.ToString()),
            attempt)
        {
            Permanent = permanent,
        };
    }

    // PostgreSQL's jsonb cannot hold U+0000, and an error must always be storable.
    private static string StorableText(string text) => text.Replace('\0', '\uFFFD');

    /// <summary>The error's type, message and attempt, on one line.</summary>
    public override string ToString() => $"{Type}: {Message} (attempt {Attempt})";
}
