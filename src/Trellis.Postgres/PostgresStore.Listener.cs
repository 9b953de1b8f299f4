using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <summary>How long the liveness check of an idle listener may take before the connection counts as dead.</summary>
    private const int ListenerPingTimeoutSeconds = 3;

    private static readonly TimeSpan MaxListenerBackoff = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Holds one connection with LISTEN on the schema's channel and hands notifications to the sink.
    /// When the connection fails or stops answering, reports the loss (callers poll meanwhile) and
    /// reconnects with back-off.
    /// </summary>
    public async Task ListenAsync(IStoreNotificationSink sink, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _listenerDataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                connection.Notification += (_, e) => Dispatch(e.Payload, sink);
                await using (var listen = new NpgsqlCommand(_sql.Listen, connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                if (!_ownsDataSource && !_sharedPlansChecked)
                {
                    await CheckSharedDataSourcePlansAsync(connection, cancellationToken).ConfigureAwait(false);
                }

                sink.OnListening();
                backoff = TimeSpan.FromMilliseconds(100);
                while (true)
                {
                    if (!await connection.WaitAsync(_listenerCheckInterval, cancellationToken).ConfigureAwait(false))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", connection) { CommandTimeout = ListenerPingTimeoutSeconds };
                        await ping.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                sink.OnListenerLost(ex);
                try
                {
                    await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = backoff * 2 < MaxListenerBackoff ? backoff * 2 : MaxListenerBackoff;
            }
        }
    }

    /// <summary>
    /// A data source shared with Trellis is used as it is (its connections do not get <see cref="SessionSetup"/>); if
    /// it keeps PostgreSQL's default plan cache mode, says so once, with the fix. The listener's connection comes from
    /// that data source, so it is asked once it listens (every engine starts its listener).
    /// </summary>
    private async Task CheckSharedDataSourcePlansAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT current_setting('plan_cache_mode')", connection);
        var mode = (string?)await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        _sharedPlansChecked = true;
        if (mode != "force_generic_plan")
        {
            _logger.SharedDataSourceReplans(mode ?? "(unknown)");
        }
    }

    private static void Dispatch(string payload, IStoreNotificationSink sink)
    {
        if (payload == "d")
        {
            sink.OnRunsFinished([]); // many runs finished; which ones is not said
            return;
        }

        if (payload.Length < 2 || payload[1] != ':')
        {
            return;
        }

        var body = payload[2..];
        switch (payload[0])
        {
            case 'w':
                sink.OnWorkAvailable(body);
                break;
            case 'c':
                sink.OnCancelRequested(body);
                break;
            case 'd':
                sink.OnRunsFinished(body.Split('\n'));
                break;
            case 'o':
                sink.OnRunReopened(body);
                break;
        }
    }
}
