namespace Trellis.Storage;

/// <summary>
/// Messages to one run travel as events: named "message:" and their topic, keyed by the run's id. So they are stored,
/// received once each, and found in order by the events' own tables and statements.
/// </summary>
internal static class MessageEvents
{
    public const string Prefix = "message:";

    public static string EventName(string topic) => Prefix + topic;
}
