using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// Renews the leases of the runs a worker holds, every <see cref="WorkerOptions.HeartbeatInterval"/> (sooner after a
/// failure), and acts on the answer: a run no longer held stops at once, a cancel requested reaches the run, and a hold
/// the store confirmed counts as fresh from when the renewal was sent. When renewals fail for longer than the lease,
/// the runs are given up: on the store's clock others may hold them by now.
/// </summary>
internal sealed class LeaseHeartbeat(
    IRunQueue store, WorkerOptions worker, Func<IReadOnlyCollection<RunExecution>> running, TimeProvider time, ILogger logger, StoreOutage? outage = null)
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(500);

    public async Task RunAsync(CancellationToken token)
    {
        var interval = worker.EffectiveHeartbeatInterval;
        var lastSuccess = time.GetUtcNow();
        var failures = 0;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(failures == 0 || interval < RetryInterval ? interval : RetryInterval, time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            // Runs inside a claim window that has not closed have no lease in the store yet; a run given up already (it
            // may wait for its last write) holds nothing to renew.
            var runs = running().Where(r => r.HoldsLease && !r.IsAborted).ToArray();
            if (runs.Length == 0)
            {
                lastSuccess = time.GetUtcNow();
                failures = 0;
                continue;
            }

            try
            {
                await RenewAsync(runs, token).ConfigureAwait(false);
                lastSuccess = time.GetUtcNow();
                failures = 0;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                if (outage?.Absorb(ex, "renewing leases") != true)
                {
                    logger.HeartbeatFailed(ex, failures + 1);
                }

                failures++;
                if (time.GetUtcNow() - lastSuccess > worker.LeaseDuration)
                {
                    logger.LeasesPresumedLost(runs.Length);
                    foreach (var run in runs)
                    {
                        run.Abort(AbortReason.LeaseLost);
                    }
                }
            }
        }
    }

    private async Task RenewAsync(RunExecution[] runs, CancellationToken token)
    {
        var sentAt = time.GetTimestamp();
        var held = await store.RenewLeasesAsync(worker.WorkerId, [.. runs.Select(r => r.Lease)], worker.LeaseDuration, token).ConfigureAwait(false);
        foreach (var run in runs)
        {
            if (!held.TryGetValue(run.RunId, out var cancelRequested))
            {
                run.Abort(AbortReason.LeaseLost); // logged as the run ends (RunExecutor.HandleAbortAsync)
                continue;
            }

            run.Hold.Confirm(sentAt);
            if (cancelRequested)
            {
                run.RequestCancel();
            }
        }
    }
}
