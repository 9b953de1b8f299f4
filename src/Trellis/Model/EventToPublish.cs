namespace Trellis;

/// <summary>An event for <see cref="TrellisClient.PublishEventsAsync"/>: its name, its key, and its data (serialized as JSON).</summary>
public sealed record EventToPublish(string Name, string Key, object? Data = null);
