using System.Text.Json;
using System.Text.Json.Serialization;

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

    private JsonSerializerOptions? _strict;

    /// <summary>The options everything is read and written with.</summary>
    public JsonSerializerOptions Options { get; } = options ?? DefaultOptions;

    /// <summary>
    /// <see cref="Options"/>, and stricter: every required constructor parameter must be present, a null may go only
    /// where the type's nullable annotations allow one, and a member the type does not have is an error. Used to
    /// check a run's input when it is started; stored JSON is read with <see cref="Options"/>.
    /// </summary>
    public JsonSerializerOptions StrictOptions => _strict ??= new JsonSerializerOptions(Options)
    {
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The value as JSON text.</summary>
    public string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>The value as JSON text, serialized as <paramref name="type"/>.</summary>
    public string Serialize(object? value, Type type) => JsonSerializer.Serialize(value, type, Options);

    /// <summary>The value of JSON text; the type's default for null.</summary>
    public T Deserialize<T>(string? json) =>
        json is null ? default! : JsonSerializer.Deserialize<T>(json, Options)!;

    /// <summary>The value of JSON text as <paramref name="type"/>; null for null.</summary>
    public object? Deserialize(string? json, Type type) =>
        json is null ? null : JsonSerializer.Deserialize(json, type, Options);

    /// <summary>
    /// Builds the serialization metadata of these types now (reflection over each type, tens of
    /// milliseconds the first time), so the first start or result after a deploy does not pay for it.
    /// </summary>
    public void Prepare(IEnumerable<Type> types)
    {
        foreach (var type in types)
        {
            try
            {
                Options.GetTypeInfo(type);
            }
            catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException)
            {
                // Not serializable as declared; the first start or result reports it, with its context.
            }
        }
    }
}
