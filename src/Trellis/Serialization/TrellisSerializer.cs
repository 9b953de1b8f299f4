using System.Text.Json;

namespace Trellis;

/// <summary>
/// Turns inputs, step results and outputs into the JSON stored in PostgreSQL (jsonb) and back,
/// with System.Text.Json. Each value is serialized once, when it is produced; stored JSON is only
/// ever deserialized, never re-serialized.
/// </summary>
public sealed class TrellisSerializer(JsonSerializerOptions? options = null)
{
    /// <summary>The web defaults (camelCase names, case-insensitive reads).</summary>
    public static JsonSerializerOptions DefaultOptions { get; } = new(JsonSerializerDefaults.Web);

    public JsonSerializerOptions Options { get; } = options ?? DefaultOptions;

    public string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public string Serialize(object? value, Type type) => JsonSerializer.Serialize(value, type, Options);

    public T Deserialize<T>(string? json) =>
        json is null ? default! : JsonSerializer.Deserialize<T>(json, Options)!;

    public object? Deserialize(string? json, Type type) =>
        json is null ? null : JsonSerializer.Deserialize(json, type, Options);
}
