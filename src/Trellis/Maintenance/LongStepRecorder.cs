using Trellis.Execution;

namespace Trellis.Maintenance;

/// <summary>
/// Gives a step that has run longer than <see cref="WorkerOptions.StepStartRecordDelay"/> its <c>running</c> row, so that
/// it can be seen in flight (quicker steps are written once, as they complete). In-process: it looks at this worker's
/// own steps, twice per delay, so a step's row appears between one and one and a half delays after it started.
/// </summary>
internal sealed class LongStepRecorder(InFlightSteps steps, TimeSpan delay, TimeProvider time) : MaintenanceService
{
    private static readonly TimeSpan ShortestInterval = TimeSpan.FromMilliseconds(5);

    public override string Name => "long step recorder";

    public override TimeSpan Interval => delay / 2 > ShortestInterval ? delay / 2 : ShortestInterval;

    public override Task RunOnceAsync(CancellationToken cancellationToken)
    {
        steps.RecordOlderThan(time.GetUtcNow() - delay);
        return Task.CompletedTask;
    }
}
