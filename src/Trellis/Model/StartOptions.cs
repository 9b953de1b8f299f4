namespace Trellis;

/// <summary>Optional settings for starting a run.</summary>
public sealed class StartOptions
{
    /// <summary>
    /// The run id, chosen by the caller. It is an idempotency key: starting a run with an id that
    /// exists creates nothing, and returns the existing run (<see cref="RunHandle.Created"/> false) or refuses,
    /// as <see cref="IfExists"/> says. When null, a new id is generated.
    /// </summary>
    public string? RunId { get; init; }

    /// <summary>What the start does when a run with <see cref="RunId"/> exists already. Default <see cref="ExistingRun.Return"/>.</summary>
    public ExistingRun IfExists { get; init; } = ExistingRun.Return;

    /// <summary>The queue the run waits in; workers serve the queues they are configured for. Default "default".</summary>
    public string? Queue { get; init; }

    /// <summary>Higher runs first among ready runs of a queue. Default 0.</summary>
    public int Priority { get; init; }

    /// <summary>Do not start before this time (the database's clock decides when it has come).</summary>
    public DateTimeOffset? ScheduledAt { get; init; }

    /// <summary>Do not start before this delay has passed, measured on the database's clock. Ignored when <see cref="ScheduledAt"/> is set.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>
    /// The run's deadline, counted from its creation on the database's clock, waits and queueing included: a run not
    /// finished by then is failed with a <see cref="RunTimedOutException"/>, wherever it is (running: its worker stops
    /// it as a cancel would; waiting for a timer, an event or children; or still in the queue). Default: none.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>A caller's id that ties related runs together (an order id, a crawl batch). Indexed.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>String key/value pairs stored with the run; runs can be listed by tag.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Attempts of the whole run before it is failed. Default: the worker options' run retry policy.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>
    /// Worker losses this run survives before it is failed with <c>Trellis.WorkerLossLimitExceeded</c> (see
    /// <see cref="TrellisOptions.MaxWorkerLosses"/>). Default: the workflow's <see cref="WorkflowAttribute.MaxWorkerLosses"/>,
    /// else the engine's <see cref="TrellisOptions.MaxWorkerLosses"/>.
    /// </summary>
    public int? MaxWorkerLosses { get; init; }

    /// <summary>The workflow version to run. Default: the highest registered version of the workflow.</summary>
    public int? WorkflowVersion { get; init; }
}

/// <summary>What a start with a <see cref="StartOptions.RunId"/> that exists does (the id is never run twice).</summary>
public enum ExistingRun
{
    /// <summary>Returns the existing run, whatever input it was started with: the start is idempotent by id.</summary>
    Return,

    /// <summary>
    /// Returns the existing run if it was started with the same input (compared as JSON values), and throws
    /// <see cref="RunConflictException"/> otherwise: a retried request is answered, a different request with a reused id is not.
    /// </summary>
    ReturnIfSameInput,

    /// <summary>Throws <see cref="RunConflictException"/>: the id must be new.</summary>
    Fail,
}
