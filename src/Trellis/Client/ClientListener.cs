using Microsoft.Extensions.Logging;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Client;

/// <summary>
/// The store notifications a client built without an engine listens to: finished runs, for its result waiters.
/// It starts listening on the first wait for a result, so a client that only starts, reads or cancels runs holds no
/// listening connection, and stops when the client is disposed.
/// </summary>
internal sealed class ClientListener(IStoreListener store, ResultWaiter waiter, ILogger logger) : IStoreNotificationSink, IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private Task? _listening;

    public void EnsureListening()
    {
        lock (_lock)
        {
            if (_listening is null && !_stop.IsCancellationRequested)
            {
                _listening = Task.Run(() => store.ListenAsync(this, _stop.Token), CancellationToken.None);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? listening;
        lock (_lock)
        {
            _stop.Cancel();
            listening = _listening;
        }

        if (listening is not null)
        {
            try
            {
                await listening.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // stopped
            }
        }

        _stop.Dispose();
    }

    void IStoreNotificationSink.OnWorkAvailable(string queue)
    {
        // Workers' business.
    }

    void IStoreNotificationSink.OnCancelRequested(string runId)
    {
        // Workers' business.
    }

    void IStoreNotificationSink.OnRunsFinished(IReadOnlyList<string> runIds) => waiter.OnFinishedNotified(runIds);

    void IStoreNotificationSink.OnRunReopened(string runId) => waiter.Forget(runId);

    void IStoreNotificationSink.OnListening()
    {
        logger.Listening();
        waiter.PollNow(); // a run may have finished before the listener was in place
    }

    void IStoreNotificationSink.OnListenerLost(Exception exception)
    {
        logger.ListenerLost(exception);
        waiter.PollNow();
    }
}
