using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>Executes one claimed run from its stored checkpoints to an outcome, and records the outcome.</summary>
internal static class RunExecutor
{
    public static async Task ExecuteAsync(RunExecution run, IRunStore store)
    {
        if (run.Aborted is { } early)
        {
            // Given back before it began (the worker's slots were taken, or it is stopping): nothing runs.
            await HandleAbortAsync(run, early).ConfigureAwait(false);
            return;
        }

        using var activity = RunSpans.StartRun(run.Claim);
        var services = run.Services;
        var logger = services.Logger;

        if (run.Claim.StartedBefore)
        {
            // Only a run started before can have checkpoints; a first claim skips the read.
            try
            {
                run.SetStoredSteps(await store.GetReplayStepsAsync(run.RunId, run.StopToken).ConfigureAwait(false));
            }
            catch (Exception) when (run.CancelRequested && run.Aborted is null)
            {
                await FinishCancelledAsync(run).ConfigureAwait(false);
                return;
            }
            catch (Exception)
            {
                // The store is unreachable; give the run back without charging the attempt.
                await FinishAsync(run, new RunFinish { RunId = run.RunId, Epoch = run.Epoch, Kind = RunFinishKind.Release }).ConfigureAwait(false);
                return;
            }
        }

        if (run.CancelRequested)
        {
            await FinishCancelledAsync(run).ConfigureAwait(false);
            return;
        }

        try
        {
            // The last thing before the workflow's code: a claim that came back to a paused process may be long dead.
            await run.EnsureHeldAsync().ConfigureAwait(false);
        }
        catch (Exception) when (run.Aborted is { } lost)
        {
            await HandleAbortAsync(run, lost).ConfigureAwait(false);
            return;
        }
        catch (RunCancelledException)
        {
            await FinishCancelledAsync(run).ConfigureAwait(false);
            return;
        }

        var context = new WorkflowContext(run);
        string outputJson;
        try
        {
            var workflow = run.Definition.ExecuteAsync(context, run.Claim.InputJson, services.Services, services.Serializer);
            if (!workflow.IsCompleted && await Task.WhenAny(workflow, run.Suspended).ConfigureAwait(false) != workflow)
            {
                await SuspendAsync(run, workflow).ConfigureAwait(false);
                return;
            }

            outputJson = await workflow.ConfigureAwait(false);
            if (context.NonDeterminism is { } swallowed)
            {
                throw swallowed; // the workflow caught it, but the run cannot be trusted
            }
        }
        catch (Exception ex)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ex.Message);
            await HandleFailureAsync(run, context, ex).ConfigureAwait(false);
            return;
        }

        if (run.Aborted is { } reason)
        {
            await HandleAbortAsync(run, reason).ConfigureAwait(false);
            return;
        }

        if (run.CancelRequested)
        {
            // Asked before the outcome was written: cancelled, even though the workflow got to its end.
            await FinishCancelledAsync(run).ConfigureAwait(false);
            return;
        }

        var completed = new RunFinish { RunId = run.RunId, Epoch = run.Epoch, Kind = RunFinishKind.Completed, OutputJson = outputJson };
        if (await FinishAsync(run, completed).ConfigureAwait(false))
        {
            if (completed.CancelledInstead)
            {
                logger.RunCancelled(run.RunId);
            }
            else
            {
                logger.RunCompleted(run.RunId);
            }
        }
    }

    /// <summary>
    /// The workflow waits without a worker: its code, stopped where it waits, is abandoned (steps it still runs beside the
    /// wait are cancelled), and the run goes to <c>waiting</c>, its slot free. A later claim replays it up to the wait.
    /// </summary>
    private static async Task SuspendAsync(RunExecution run, Task<string> workflow)
    {
        var finish = await run.Suspended.ConfigureAwait(false);
        run.Abort(AbortReason.Suspended);
        _ = workflow.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        if (finish is null)
        {
            run.Services.Logger.RunSuspended(run.RunId, "an event");
        }
        else if (await FinishAsync(run, finish).ConfigureAwait(false))
        {
            run.Services.Logger.RunSuspended(run.RunId, finish.WaitReason);
        }
    }

    private static async Task HandleFailureAsync(RunExecution run, WorkflowContext context, Exception exception)
    {
        var services = run.Services;
        if (run.Aborted is { } reason)
        {
            await HandleAbortAsync(run, reason).ConfigureAwait(false);
            return;
        }

        if (exception is LeaseLostException)
        {
            services.Logger.RunLeaseLost(run.RunId, run.Epoch);
            return;
        }

        if (context.NonDeterminism is null && run.CancelRequested)
        {
            await FinishCancelledAsync(run).ConfigureAwait(false);
            return;
        }

        var failure = context.NonDeterminism ?? exception;
        var policy = services.Options.RunRetry;
        var permanent = ErrorClassifier.Classify(failure, policy) == ErrorKind.Permanent;
        var attempt = run.Claim.Attempt;
        var error = ErrorInfo.FromException(failure, attempt, permanent);
        var errorJson = services.Serializer.Serialize(error);
        var failedStep = FindFailedStep(failure);
        // A step that failed for good would only replay its failure on the next attempt, unless it may run again.
        var retriable = !permanent && (failedStep is null || services.Options.RetryFailedStepsOnRunRetry);

        if (retriable && attempt < run.Claim.MaxAttempts)
        {
            var delay = policy.DelayBefore(attempt + 1);
            var retry = new RunFinish
            {
                RunId = run.RunId,
                Epoch = run.Epoch,
                Kind = RunFinishKind.Retry,
                ErrorJson = errorJson,
                RetryDelay = delay,
                ResetStepSequence = failedStep?.Sequence,
            };
            if (await FinishAsync(run, retry).ConfigureAwait(false))
            {
                services.Logger.RunAttemptFailed(failure, run.RunId, attempt, delay);
            }

            return;
        }

        var failed = new RunFinish { RunId = run.RunId, Epoch = run.Epoch, Kind = RunFinishKind.Failed, ErrorJson = errorJson };
        if (await FinishAsync(run, failed).ConfigureAwait(false))
        {
            services.Logger.RunFailed(failure, run.RunId, attempt);
        }
    }

    private static async Task HandleAbortAsync(RunExecution run, AbortReason reason)
    {
        if (reason == AbortReason.LeaseLost)
        {
            if (run.Services.Outage?.IsDown == true)
            {
                run.Services.Logger.RunGivenUpInOutage(run.RunId, run.Epoch); // the outage is logged once, not per run
            }
            else
            {
                run.Services.Logger.RunLeaseLost(run.RunId, run.Epoch);
            }

            return;
        }

        if (await FinishAsync(run, new RunFinish { RunId = run.RunId, Epoch = run.Epoch, Kind = RunFinishKind.Release }).ConfigureAwait(false))
        {
            if (reason == AbortReason.OverLimit)
            {
                run.Services.Logger.RunGivenBackOverLimit(run.RunId);
            }
            else
            {
                run.Services.Logger.RunReleased(run.RunId);
            }
        }
    }

    private static async Task FinishCancelledAsync(RunExecution run)
    {
        if (run.TimedOut)
        {
            // Stopped by its deadline rather than by a caller: failed, for good.
            var error = ErrorInfo.FromException(new RunTimedOutException(run.RunId), run.Claim.Attempt, permanent: true);
            var timedOut = new RunFinish { RunId = run.RunId, Epoch = run.Epoch, Kind = RunFinishKind.Failed, ErrorJson = run.Services.Serializer.Serialize(error) };
            if (await FinishAsync(run, timedOut).ConfigureAwait(false))
            {
                run.Services.Logger.RunTimedOut(run.RunId);
                await CancelChildrenAsync(run).ConfigureAwait(false);
            }

            return;
        }

        if (await FinishAsync(run, new RunFinish { RunId = run.RunId, Epoch = run.Epoch, Kind = RunFinishKind.Cancelled }).ConfigureAwait(false))
        {
            run.Services.Logger.RunCancelled(run.RunId);
        }
    }

    /// <summary>
    /// A parent's deadline ends its children that follow its cancel (<see cref="ChildOptions.WhenParentCancelled"/>), and
    /// theirs, as a cancel of it would. Sent after the failure is written, not with it: should this process die in between,
    /// they run on; should the parent be retried in between, they are left to it.
    /// </summary>
    private static async Task CancelChildrenAsync(RunExecution run)
    {
        try
        {
            await run.Services.Runs.CancelChildrenAsync(run.RunId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            run.Services.Logger.TimedOutChildrenNotCancelled(ex, run.RunId);
        }
    }

    /// <summary>Writes the outcome; false when it was fenced off or could not be written.</summary>
    private static async Task<bool> FinishAsync(RunExecution run, RunFinish finish)
    {
        try
        {
            var applied = await run.WriteAsync(finish).ConfigureAwait(false);
            if (!applied)
            {
                run.Services.Logger.RunLeaseLost(run.RunId, run.Epoch);
            }
            else
            {
                RunMetrics.AttemptEnded(run.Claim.WorkflowName, finish);
            }

            return applied;
        }
        catch (Exception ex)
        {
            // The lease will expire and another claim will finish the run.
            run.Services.Logger.RunFinishFailed(ex, run.RunId);
            return false;
        }
    }

    private static StepFailedException? FindFailedStep(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case StepFailedException failed:
                    return failed;
                case AggregateException aggregate:
                    return aggregate.InnerExceptions.Select(FindFailedStep).FirstOrDefault(f => f is not null);
            }
        }

        return null;
    }
}
