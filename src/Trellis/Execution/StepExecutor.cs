using System.Diagnostics;
using System.Text.Json;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// Runs one step (or one item of a per-item step) to the end: attempts with timeout, classification
/// of errors, backoff between attempts, and the checkpoint of every attempt's outcome.
/// </summary>
internal static class StepExecutor
{
    public static async Task<T> ExecuteAsync<T>(
        RunExecution run,
        int sequence,
        int? itemIndex,
        string name,
        Func<CancellationToken, Task<T>> body,
        StepOptions? options,
        int previousAttempts)
    {
        var services = run.Services;
        var policy = options?.Retry ?? services.Options.StepRetry;
        var attempt = previousAttempts;
        for (var tries = 1; ; tries++)
        {
            // No body starts on a hold this worker cannot vouch for (a pause, an unreachable store).
            await run.EnsureHeldAsync().ConfigureAwait(false);
            attempt++;
            var startedAt = services.Time.GetUtcNow();
            var startedTimestamp = Stopwatch.GetTimestamp(); // the real duration, whatever clock the engine is given
            using var activity = RunSpans.StartStep(run, name, sequence, itemIndex, attempt);
            var inFlight = services.InFlight.Begin(
                Row(run, sequence, itemIndex, name, StepStatus.Running, attempt, startedAt),
                run.WriteAsync);
            var ended = false;
            try
            {
                T result;
                string resultJson;
                try
                {
                    result = await InvokeAsync(body, options?.Timeout, name, services.Time, run.StopToken).ConfigureAwait(false);
                    resultJson = SerializeResult(services.Serializer, result, name);
                }
                catch (Exception ex) when (!run.StopToken.IsCancellationRequested)
                {
                    var permanent = ErrorClassifier.Classify(ex, policy) == ErrorKind.Permanent;
                    var error = ErrorInfo.FromException(ex, attempt, permanent) with { At = run.Services.Time.GetUtcNow() };
                    var errorJson = services.Serializer.Serialize(error);
                    var retry = !permanent && tries < policy.MaxAttempts;
                    var failedRow = Row(run, sequence, itemIndex, name, retry ? StepStatus.Running : StepStatus.Failed, attempt, startedAt) with
                    {
                        ErrorJson = errorJson,
                        NewErrorsJson = [errorJson],
                        CompletedAt = retry ? null : services.Time.GetUtcNow(),
                    };
                    ended = true;
                    await run.EnsureAppliedAsync(inFlight.End(services.InFlight, failedRow)).ConfigureAwait(false);
                    RunMetrics.StepEnded(run.Claim.WorkflowName, name, retry ? "retry" : "failed", startedTimestamp);
                    activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
                    if (!retry)
                    {
                        throw new StepFailedException(name, sequence, itemIndex, error, permanent, ex);
                    }

                    var delay = policy.DelayBefore(tries + 1);
                    services.Logger.StepAttemptFailed(ex, run.RunId, name, attempt, delay);
                    await Task.Delay(delay, services.Time, run.StopToken).ConfigureAwait(false);
                    continue;
                }

                var completedRow = Row(run, sequence, itemIndex, name, StepStatus.Completed, attempt, startedAt) with
                {
                    ResultJson = resultJson,
                    CompletedAt = services.Time.GetUtcNow(),
                };
                ended = true;
                await run.EnsureAppliedAsync(inFlight.End(services.InFlight, completedRow)).ConfigureAwait(false);
                RunMetrics.StepEnded(run.Claim.WorkflowName, name, "completed", startedTimestamp);
                return result;
            }
            finally
            {
                if (!ended)
                {
                    _ = inFlight.End(services.InFlight, null);
                }
            }
        }
    }

    /// <summary>Runs the body; past the timeout, cancels its token and fails the attempt even if the body ignores the token.</summary>
    private static async Task<T> InvokeAsync<T>(Func<CancellationToken, Task<T>> body, TimeSpan? timeout, string name, TimeProvider time, CancellationToken runToken)
    {
        if (timeout is not { } limit)
        {
            // A body that ignores its token must not hold up a cancel, a shutdown or a lost lease: stop waiting for it.
            return await body(runToken).WaitAsync(runToken).ConfigureAwait(false);
        }

        using var timeoutSource = new CancellationTokenSource(limit, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(runToken, timeoutSource.Token);
        var task = body(linked.Token);
        try
        {
            return await task.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !runToken.IsCancellationRequested)
        {
            // The abandoned body may still fail later; observe it so it is not reported as unobserved.
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new StepTimeoutException(name, limit);
        }
    }

    private static string SerializeResult<T>(TrellisSerializer serializer, T result, string name)
    {
        try
        {
            return serializer.Serialize(result);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new NonRetryableException($"The result of step '{name}' cannot be serialized to JSON: {ex.Message}", ex);
        }
    }

    private static StepWrite Row(RunExecution run, int sequence, int? itemIndex, string name, StepStatus status, int attempts, DateTimeOffset startedAt) =>
        new()
        {
            RunId = run.RunId,
            Epoch = run.Epoch,
            Sequence = sequence,
            ItemIndex = itemIndex,
            Name = name,
            Status = status,
            Attempts = attempts,
            StartedAt = startedAt,
        };
}
