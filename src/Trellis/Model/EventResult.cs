namespace Trellis;

/// <summary>
/// What <see cref="WorkflowContext.WaitForEventAsync{T}"/> got: the event's data, or nothing because the timeout passed
/// first (<see cref="TimedOut"/>), which is a result to branch on, not an error.
/// </summary>
public readonly record struct EventResult<T>(bool Received, T? Data, DateTimeOffset? PublishedAt)
{
    /// <summary>True when the timeout passed before an event arrived.</summary>
    public bool TimedOut => !Received;
}
