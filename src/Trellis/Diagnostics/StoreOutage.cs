using Microsoft.Extensions.Logging;

namespace Trellis.Diagnostics;

/// <summary>
/// One outage of the store, logged once. The first failure that looks like the database being away (the store's
/// transient errors, lock conflicts aside) logs a warning and starts a probe; the failures every part of the engine meets
/// meanwhile are logged at Debug only; the probe's first success logs how long the outage lasted and how many failures it
/// covered, and releases the loops that wait for it (<see cref="WhenUpAsync"/>). The probe backs off from 0.5 s to 5 s
/// between tries, so the engine finds the database within seconds of its return.
/// </summary>
internal sealed class StoreOutage(Func<CancellationToken, Task> probe, Func<Exception, bool> isTransient, TimeProvider time, ILogger logger) : IDisposable
{
    private static readonly TimeSpan FirstProbe = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan LongestProbeGap = TimeSpan.FromSeconds(5);
    private const string DeadlockDetected = "40P01";
    private const string SerializationFailure = "40001";

    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource? _up;
    private DateTimeOffset _since;
    private int _covered;

    /// <summary>True while an outage is under way (from the first failure to the probe's first success).</summary>
    public bool IsDown
    {
        get
        {
            lock (_gate)
            {
                return _up is not null;
            }
        }
    }

    /// <summary>
    /// True when <paramref name="exception"/> is part of an outage, which this logs (once); false for any other error,
    /// which the caller logs as it would.
    /// </summary>
    public bool Absorb(Exception exception, string what)
    {
        if (!isTransient(exception) || IsLockConflict(exception))
        {
            return false;
        }

        lock (_gate)
        {
            if (_up is not null)
            {
                _covered++;
                logger.StoreStillDown(what, exception.Message);
                return true;
            }

            _up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _since = time.GetUtcNow();
            _covered = 1;
        }

        logger.StoreDown(exception, what, exception.Message);
        _ = Task.Run(ProbeUntilUpAsync, CancellationToken.None);
        return true;
    }

    /// <summary>
    /// A deadlock or a serialization failure: transient (the caller tries again) but no sign of the database being away,
    /// so no outage: the caller logs it as it would.
    /// </summary>
    private static bool IsLockConflict(Exception exception) =>
        exception is System.Data.Common.DbException { SqlState: DeadlockDetected or SerializationFailure };

    /// <summary>Completes when no outage is under way, or after <paramref name="longest"/>, whichever comes first.</summary>
    public async Task WhenUpAsync(TimeSpan longest, CancellationToken cancellationToken)
    {
        Task? up;
        lock (_gate)
        {
            up = _up?.Task;
        }

        if (up is not null)
        {
            await Task.WhenAny(up, Task.Delay(longest, time, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private async Task ProbeUntilUpAsync()
    {
        var gap = FirstProbe;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(gap, time, token).ConfigureAwait(false);
                await probe(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                gap = gap * 2 < LongestProbeGap ? gap * 2 : LongestProbeGap;
                continue; // still down: logged once already
            }

            TaskCompletionSource up;
            int covered;
            DateTimeOffset since;
            lock (_gate)
            {
                (up, covered, since) = (_up!, _covered, _since);
                _up = null;
            }

            logger.StoreBack(time.GetUtcNow() - since, covered);
            up.TrySetResult();
            return;
        }
    }
}
