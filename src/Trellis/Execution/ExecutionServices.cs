using Microsoft.Extensions.Logging;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>What a run execution needs from the worker.</summary>
internal sealed record ExecutionServices(
    CheckpointWriter Writer,
    InFlightSteps InFlight,
    TrellisSerializer Serializer,
    TrellisOptions Options,
    TimeProvider Time,
    ILogger Logger,
    IServiceProvider? Services,
    IRunQueue Queue,
    IRunTimers Timers,
    IRunEvents Events,
    IRunValues Values,
    IRunStore Runs,
    IRunChildren Children,
    WorkflowRegistry Registry,
    Func<Exception, bool> IsTransient)
{
    /// <summary>The engine's record of a database outage, if it keeps one: what happens to runs during one is logged with it.</summary>
    public Diagnostics.StoreOutage? Outage { get; init; }
}
