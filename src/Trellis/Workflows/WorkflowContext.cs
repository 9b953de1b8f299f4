using Microsoft.Extensions.Logging;
using Trellis.Execution;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis;

/// <summary>
/// What a workflow uses to do durable work: steps whose results are checkpointed, per-item steps,
/// progress. Passed to <see cref="Workflow{TInput, TOutput}.RunAsync"/>; never shared between runs.
/// </summary>
/// <remarks>
/// Each step call takes the next position in the run (0, 1, 2, …) when it is called, before it awaits
/// anything. On replay the stored row at that position answers the call, so steps must be called in
/// the same order on every execution. Calls without a cancellation token use <see cref="CancellationToken"/>.
/// </remarks>
public sealed partial class WorkflowContext
{
    /// <summary>Items of a per-item step that run at once unless the call says otherwise.</summary>
    public const int DefaultMaxParallelism = 8;

    /// <summary>Stored rows of a per-item step read at a time when a replay reaches it.</summary>
    private const int StoredItemsPage = 1000;

    private readonly RunExecution _run;
    private NonDeterminismException? _nonDeterminism;

    internal WorkflowContext(RunExecution run) => _run = run;

    /// <summary>The run's id.</summary>
    public string RunId => _run.RunId;

    /// <summary>The workflow's registered name.</summary>
    public string WorkflowName => _run.Claim.WorkflowName;

    /// <summary>The workflow's version.</summary>
    public int WorkflowVersion => _run.Claim.WorkflowVersion;

    /// <summary>The run attempt, from 1.</summary>
    public int Attempt => _run.Claim.Attempt;

    /// <summary>The run's correlation id, if it was started with one.</summary>
    public string? CorrelationId => _run.Claim.CorrelationId;

    /// <summary>The run's tags.</summary>
    public IReadOnlyDictionary<string, string> Tags => _run.Claim.Tags;

    /// <summary>
    /// Cancelled when a caller cancels the run, or when this worker stops executing it (shutdown, or the run was taken
    /// over). Step bodies get the same token: pass it on to what they await.
    /// </summary>
    public CancellationToken CancellationToken => _run.StopToken;

    /// <summary>
    /// True once a caller has asked to cancel the run: the running steps' tokens are cancelled, no step starts after it,
    /// and the run ends cancelled, even if the workflow returns normally.
    /// </summary>
    public bool IsCancellationRequested => _run.CancelRequested;

    /// <summary>A logger for the workflow's own lines (see <see cref="IsReplaying"/> to keep them from repeating).</summary>
    public ILogger Logger => _run.Services.Logger;

    /// <summary>
    /// True while the workflow is re-executing code whose steps are all stored from an earlier execution
    /// (after a crash or a retry). Use it to keep side effects outside steps, such as log lines, from repeating.
    /// </summary>
    public bool IsReplaying => _run.IsReplaying;

    internal NonDeterminismException? NonDeterminism => _nonDeterminism;

    /// <summary>
    /// Runs <paramref name="body"/> as a durable step: its result is stored when it completes, and a
    /// re-execution of the run returns the stored result without running the body again.
    /// </summary>
    public Task<T> StepAsync<T>(string name, Func<CancellationToken, Task<T>> body, StepOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(body);
        options?.Validate(name);
        var sequence = _run.NextSequence();
        return RunStepAsync(sequence, name, body, options);
    }

    /// <summary>A durable step without a result.</summary>
    public Task StepAsync(string name, Func<CancellationToken, Task> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return StepAsync<object?>(name, async ct =>
        {
            await body(ct).ConfigureAwait(false);
            return null;
        }, options);
    }

    /// <summary>
    /// Runs <paramref name="body"/> for every item, up to <paramref name="maxParallelism"/> at once, as
    /// one step position with one stored row per item (<c>item_index</c> = the item's index). After a
    /// crash, only items without a completed row run again. Results come back in item order.
    /// When an item fails for good, no new items start, the ones in flight finish, and the item's
    /// <see cref="StepFailedException"/> is thrown.
    /// </summary>
    public Task<TResult[]> ForEachAsync<TItem, TResult>(
        string name,
        IReadOnlyList<TItem> items,
        Func<TItem, int, CancellationToken, Task<TResult>> body,
        int maxParallelism = DefaultMaxParallelism,
        StepOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(body);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallelism, 1);
        options?.Validate(name);
        var sequence = _run.NextSequence();
        return RunForEachAsync(sequence, name, items, body, maxParallelism, options);
    }

    /// <inheritdoc cref="ForEachAsync{TItem, TResult}(string, IReadOnlyList{TItem}, Func{TItem, int, CancellationToken, Task{TResult}}, int, StepOptions?)"/>
    public Task<TResult[]> ForEachAsync<TItem, TResult>(
        string name,
        IReadOnlyList<TItem> items,
        Func<TItem, CancellationToken, Task<TResult>> body,
        int maxParallelism = DefaultMaxParallelism,
        StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return ForEachAsync(name, items, (item, _, ct) => body(item, ct), maxParallelism, options);
    }

    /// <summary>
    /// Saves the run's progress (0–100 and a message) in the store. While replaying stored steps the call
    /// does nothing, so that a resumed run's progress does not go back to earlier values.
    /// </summary>
    public async Task ReportProgressAsync(double percent, string? message = null)
    {
        if (double.IsNaN(percent) || percent < 0 || percent > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "Progress is a percentage between 0 and 100.");
        }

        _run.ThrowIfAborted();
        if (_run.IsReplaying)
        {
            return;
        }

        var write = new ProgressWrite { RunId = _run.RunId, Epoch = _run.Epoch, Percent = percent, Message = message };
        await _run.EnsureAppliedAsync(_run.WriteAsync(write)).ConfigureAwait(false);
    }

    private async Task<T> RunStepAsync<T>(int sequence, string name, Func<CancellationToken, Task<T>> body, StepOptions? options)
    {
        var stored = _run.GetStored(sequence);
        if (stored is not null)
        {
            if (stored.IsPerItem || stored.Name != name)
            {
                throw Mismatch(sequence, stored, name, perItem: false);
            }

            var step = stored.Step!;
            switch (step.Status)
            {
                case StepStatus.Completed:
                    return Replay<T>(step);
                case StepStatus.Failed:
                    throw ReplayFailure(step);
            }
        }

        return await StepExecutor.ExecuteAsync(_run, sequence, null, name, body, options, stored?.Step?.Attempts ?? 0).ConfigureAwait(false);
    }

    private async Task<TResult[]> RunForEachAsync<TItem, TResult>(
        int sequence,
        string name,
        IReadOnlyList<TItem> items,
        Func<TItem, int, CancellationToken, Task<TResult>> body,
        int maxParallelism,
        StepOptions? options)
    {
        var stored = _run.GetStored(sequence);
        if (stored is not null && (!stored.IsPerItem || stored.Name != name))
        {
            throw Mismatch(sequence, stored, name, perItem: true);
        }

        var results = new TResult[items.Count];
        var done = new bool[items.Count];
        // Attempts made so far by items stored without a result (failed and waiting for a retry, or in flight): few.
        Dictionary<int, int>? previousAttempts = null;
        if (stored is not null)
        {
            // The stored rows page by page, each deserialized into its result and let go.
            for (var after = -1; ;)
            {
                var page = await StoreCalls.RetryAsync(_run, token => _run.Services.Runs.GetStepItemsAsync(RunId, sequence, after, StoredItemsPage, token)).ConfigureAwait(false);
                foreach (var row in page)
                {
                    var index = row.ItemIndex!.Value;
                    if (index >= items.Count)
                    {
                        continue;
                    }

                    switch (row.Status)
                    {
                        case StepStatus.Completed:
                            results[index] = Replay<TResult>(row);
                            done[index] = true;
                            break;
                        case StepStatus.Failed:
                            throw ReplayFailure(row);
                        default:
                            (previousAttempts ??= [])[index] = row.Attempts;
                            break;
                    }
                }

                if (page.Count < StoredItemsPage)
                {
                    break;
                }

                after = page[^1].ItemIndex!.Value;
            }
        }

        var pending = new List<int>();
        for (var index = 0; index < items.Count; index++)
        {
            if (!done[index])
            {
                pending.Add(index);
            }
        }

        if (pending.Count == 0)
        {
            return results;
        }

        StepFailedException? failure = null;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Min(maxParallelism, pending.Count) };
        await Parallel.ForEachAsync(pending, parallel, async (index, _) =>
        {
            if (Volatile.Read(ref failure) is not null)
            {
                return;
            }

            try
            {
                results[index] = await StepExecutor.ExecuteAsync(
                    _run, sequence, index, name, ct => body(items[index], index, ct), options, previousAttempts?.GetValueOrDefault(index) ?? 0).ConfigureAwait(false);
            }
            catch (StepFailedException ex)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
            }
        }).ConfigureAwait(false);

        return failure is null ? results : throw failure;
    }

    private T Replay<T>(StepInfo step)
    {
        RunSpans.RecordReplayedStep(_run, step);
        try
        {
            return _run.Services.Serializer.Deserialize<T>(step.ResultJson);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or NotSupportedException)
        {
            throw new NonRetryableException(
                $"The stored result of step '{step.Name}' (position {step.Sequence}) no longer deserializes into {typeof(T).Name}: {ex.Message}. "
                + "Register the changed workflow as a new version.", ex);
        }
    }

    private static StepFailedException ReplayFailure(StepInfo step)
    {
        var error = step.Error ?? new ErrorInfo("Trellis.UnknownError", "The step failed in an earlier execution.", null, step.Attempts);
        return new StepFailedException(step.Name, step.Sequence, step.ItemIndex, error, error.Permanent, null);
    }

    private NonDeterminismException Mismatch(int sequence, StoredPosition stored, string name, bool perItem)
    {
        var expected = stored.IsPerItem ? $"{stored.Name} (per-item)" : stored.Name;
        var actual = perItem ? $"{name} (per-item)" : name;
        var exception = new NonDeterminismException(_run.RunId, sequence, expected, actual);
        Interlocked.CompareExchange(ref _nonDeterminism, exception, null);
        return exception;
    }
}
