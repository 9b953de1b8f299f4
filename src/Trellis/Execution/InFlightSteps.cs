using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// Gives long steps a visible <c>running</c> row without costing quick steps a second write.
/// A step attempt registers here when its body starts; <see cref="Maintenance.LongStepRecorder"/>
/// queues a <c>running</c> row for attempts older than <see cref="WorkerOptions.StepStartRecordDelay"/>. A step that completes sooner is written once, as completed.
/// </summary>
internal sealed class InFlightSteps
{
    private readonly Dictionary<InFlightStep, byte> _steps = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _lock = new();

    public InFlightStep Begin(StepWrite runningRow, Func<StepWrite, Task<bool>> write)
    {
        var step = new InFlightStep(runningRow, write);
        lock (_lock)
        {
            _steps[step] = 0;
        }

        return step;
    }

    /// <summary>Queues a running row for every attempt that started before <paramref name="cutoff"/>.</summary>
    public void RecordOlderThan(DateTimeOffset cutoff)
    {
        InFlightStep[] candidates;
        lock (_lock)
        {
            candidates = _steps.Keys.Where(s => s.RunningRow.StartedAt <= cutoff).ToArray();
        }

        foreach (var step in candidates)
        {
            step.RecordRunning();
        }
    }

    internal void Remove(InFlightStep step)
    {
        lock (_lock)
        {
            _steps.Remove(step);
        }
    }

    /// <summary>One step attempt in flight.</summary>
    internal sealed class InFlightStep(StepWrite runningRow, Func<StepWrite, Task<bool>> write)
    {
        private readonly Lock _lock = new();
        private bool _recorded;
        private bool _ended;

        public StepWrite RunningRow { get; } = runningRow;

        public void RecordRunning()
        {
            lock (_lock)
            {
                if (_recorded || _ended)
                {
                    return;
                }

                _recorded = true;
                // The outcome of this write is not awaited: the attempt's final write reports fencing.
                write(RunningRow).ContinueWith(
                    static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }

        /// <summary>
        /// Ends the attempt and queues its final write under the same lock as <see cref="RecordRunning"/>,
        /// so a running row can never be queued after (and overwrite) the final one.
        /// </summary>
        public Task<bool> End(InFlightSteps owner, StepWrite? finalRow)
        {
            Task<bool> result;
            lock (_lock)
            {
                _ended = true;
                result = finalRow is null ? Task.FromResult(true) : write(finalRow);
            }

            owner.Remove(this);
            return result;
        }
    }
}
