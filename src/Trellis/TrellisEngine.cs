using Microsoft.Extensions.Logging;
using Trellis.Client;
using Trellis.Diagnostics;
using Trellis.Execution;
using Trellis.Maintenance;
using Trellis.Storage;

namespace Trellis;

/// <summary>
/// One Trellis instance: the store, the client, the worker (when enabled) and the notification
/// listener they share. Create it with <see cref="Create"/> or <c>services.AddTrellis(...)</c>.
/// </summary>
/// <example>
/// <code>
/// await using var trellis = await TrellisEngine.Create()
///     .UsePostgres(connectionString)
///     .AddWorkflow&lt;MangaToVideo&gt;()
///     .StartAsync();
/// var run = await trellis.Client.StartAsync&lt;MangaToVideo&gt;(job);
/// var video = await run.GetResultAsync();
/// </code>
/// </example>
public sealed class TrellisEngine : IAsyncDisposable, IStoreNotificationSink
{
    private readonly ILogger _logger;
    private readonly ResultWaiter _waiter;
    private readonly TrellisSerializer _serializer;
    private readonly RunStarter _starter;
    private readonly MaintenanceRunner? _maintenance;
    private readonly ILogger? _maintenanceLogger;
    private static readonly TimeSpan ListenerStartTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopListening = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _listener;
    private int _state; // 0 new, 1 started, 2 stopped
    private bool _running;
    private readonly StoreOutage _outage;

    internal TrellisEngine(
        IWorkflowStore store,
        Func<Exception, bool> isTransient,
        WorkflowRegistry registry,
        TrellisOptions options,
        ILoggerFactory loggerFactory,
        TimeProvider time,
        IServiceProvider? services,
        IReadOnlyList<Func<IWorkflowStore, MaintenanceService>>? addedMaintenance = null)
    {
        Store = store;
        Registry = registry;
        Options = options;
        _logger = loggerFactory.CreateLogger("Trellis");
        _outage = new StoreOutage(token => store.CheckHealthAsync(token), isTransient, time, _logger);
        var serializer = new TrellisSerializer(options.JsonSerializerOptions);
        _serializer = serializer;
        _waiter = new ResultWaiter(store, serializer, options.ResultPollInterval, time, _logger);
        _starter = new RunStarter(store);
        if (options.Worker.Enabled)
        {
            Worker = new TrellisWorker(store, isTransient, registry, options, serializer, loggerFactory, time, services, _outage);
            _waiter.IsExecutingLocally = ((ILocalRunner)Worker).IsExecuting;
            var worker = options.Worker;
            var maintenanceLogger = _maintenanceLogger = loggerFactory.CreateLogger("Trellis.Maintenance");
            var timers = new TimerWakeUp(store, worker.PollInterval, time, Worker.Poll, maintenanceLogger);
            Worker.RunsFinished = finishes =>
            {
                _waiter.OnFinishedLocally(finishes);
                if (AnyWentToSleep(finishes))
                {
                    timers.Poke(); // to learn its due time now, not at the next round
                }
            };
            MaintenanceService[] maintenance =
            [
                new LeaseRecovery(store, worker.EffectiveLeaseRecoveryInterval, Worker.Poll, maintenanceLogger),
                new LongStepRecorder(Worker.InFlightSteps, worker.StepStartRecordDelay, time),
                timers,
                new QueueMetricsRefresh(store, Worker.Queues, worker.QueueMetricsInterval),
                new Maintenance.WorkerBeat(store, worker, Worker.Queues, () => Worker.InFlightCount),
                .. (addedMaintenance ?? []).Select(create => create(store)),
                .. options.Retention.Rules.DeletesAnything ? [new RetentionCleaner(store, options.Retention, time, maintenanceLogger)] : Array.Empty<MaintenanceService>(),
            ];
            var leader = new LeaderLease(store, LeaderLease.MaintenanceLeaseName, worker.WorkerId, worker.LeaseDuration, time, maintenanceLogger);
            _maintenance = new MaintenanceRunner(maintenance, leader, time, maintenanceLogger, _outage);
        }

        Client = new TrellisClient(store, registry, options, serializer, _waiter, _starter, Worker);
    }

    /// <summary>Starts a fluent configuration: <c>TrellisEngine.Create().UsePostgres(...).AddWorkflow&lt;T&gt;().StartAsync()</c>.</summary>
    public static TrellisBuilder Create() => new();

    /// <summary>Starts, reads, awaits and cancels runs.</summary>
    public TrellisClient Client { get; }

    /// <summary>The worker, or null when <see cref="WorkerOptions.Enabled"/> is false.</summary>
    public TrellisWorker? Worker { get; }

    /// <summary>Where runs and steps are kept.</summary>
    public IWorkflowStore Store { get; }

    /// <summary>The registered workflows.</summary>
    public WorkflowRegistry Registry { get; }

    /// <summary>The engine's settings.</summary>
    public TrellisOptions Options { get; }

    /// <summary>Migrates the store (unless disabled), registers the workflows, starts listening and starts the worker.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The engine has already been started.");
        }

        try
        {
            if (Options.MigrateOnStart)
            {
                await Store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            }

            if (Worker is not null)
            {
                var definitions = Registry.Definitions
                    .Select(d => new DefinitionRecord(d.Name, d.Version, d.InputType.FullName ?? d.InputType.Name, d.OutputType.FullName ?? d.OutputType.Name, d.MaxWorkerLosses))
                    .ToArray();
                if (definitions.Length > 0)
                {
                    await Store.RegisterDefinitionsAsync(definitions, cancellationToken).ConfigureAwait(false);
                }

                // Before the worker takes any run: a local start would otherwise be taken for the earlier process's.
                await LeaseRecovery.RecoverOwnRunsAsync(Store, Worker.WorkerId, _maintenanceLogger!, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            // Nothing has started yet; the caller may try again (e.g. once the database is up).
            Volatile.Write(ref _state, 0);
            throw;
        }

        _listener = Task.Run(() => Store.ListenAsync(this, _stopListening.Token), CancellationToken.None);
        _serializer.Prepare(Registry.Definitions.SelectMany(d => new[] { d.InputType, d.OutputType }).Distinct());
        var warmUp = WarmUpStartPathAsync(cancellationToken);

        // Wait briefly for LISTEN to be in place, so that a cancel sent right after start is not missed.
        // If it cannot be set up now, polling and heartbeats cover until the listener connects.
        await Task.WhenAny(_listening.Task, _listener, Task.Delay(ListenerStartTimeout, cancellationToken)).ConfigureAwait(false);
        await warmUp.ConfigureAwait(false);
        if (Worker is not null)
        {
            await _maintenance!.StartAsync(cancellationToken).ConfigureAwait(false);
            await Worker.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        Volatile.Write(ref _running, true);
    }

    /// <summary>True from the end of <see cref="StartAsync"/> (migrated, listening, the worker claiming) until <see cref="StopAsync"/>.</summary>
    public bool IsRunning => Volatile.Read(ref _running);

    /// <summary>
    /// Sends an empty bulk start through the store while the listener connects. The first bulk start in a
    /// process otherwise pays, on the caller's time, for compiling the array writers and the statement's
    /// code path. It writes nothing and wakes no one.
    /// </summary>
    private async Task WarmUpStartPathAsync(CancellationToken cancellationToken)
    {
        if (Registry.Definitions.FirstOrDefault() is not { } definition)
        {
            return;
        }

        try
        {
            await Store.CreateRunBatchAsync(
                new NewRunBatch(definition.Name, definition.Version, Options.DefaultQueue, 0, [], [], null, RunInfo.EmptyTags, 1, null, null),
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Only a cost moved; the schema may not be migrated yet when MigrateOnStart is off.
            _logger.WarmUpFailed(exception);
        }
    }

    /// <summary>Stops the worker gracefully (see <see cref="TrellisWorker.StopAsync"/>) and the listener.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        Volatile.Write(ref _running, false);

        if (Worker is not null)
        {
            await Worker.StopAsync(cancellationToken).ConfigureAwait(false);
            await _maintenance!.StopAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await Store.RecordWorkerStoppedAsync(Worker.WorkerId, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Its row stops beating: it is no longer live a few heartbeats from now anyway.
                _maintenanceLogger?.MaintenanceFailed(ex, "worker stop record");
            }
        }

        await _stopListening.CancelAsync().ConfigureAwait(false);
        if (_listener is not null)
        {
            try
            {
                await _listener.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // stopped
            }
        }
    }

    /// <summary>Stops the engine (see <see cref="StopAsync"/>) and releases the store.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (Worker is not null)
        {
            await Worker.DisposeAsync().ConfigureAwait(false);
        }

        await _starter.DisposeAsync().ConfigureAwait(false);
        await _waiter.DisposeAsync().ConfigureAwait(false);
        _maintenance?.Dispose();
        _outage.Dispose();
        await Store.DisposeAsync().ConfigureAwait(false);
        _stopListening.Dispose();
    }

    private static bool AnyWentToSleep(IReadOnlyList<RunFinish> finishes)
    {
        foreach (var finish in finishes)
        {
            if (finish.Kind == RunFinishKind.Suspend && !finish.CancelledInstead && (finish.WakeAt is not null || finish.WakeAfter is not null))
            {
                return true;
            }
        }

        return false;
    }

    void IStoreNotificationSink.OnWorkAvailable(string queue) => Worker?.OnWorkAvailable(queue);

    void IStoreNotificationSink.OnCancelRequested(string runId) => Worker?.OnCancelRequested(runId);

    void IStoreNotificationSink.OnRunsFinished(IReadOnlyList<string> runIds) => _waiter.OnFinishedNotified(runIds);

    void IStoreNotificationSink.OnRunReopened(string runId) => _waiter.Forget(runId);

    void IStoreNotificationSink.OnListening()
    {
        _logger.Listening();
        _listening.TrySetResult();
        // Anything that happened while we were not listening is found by one immediate look.
        Worker?.Poll();
        _waiter.PollNow();
    }

    void IStoreNotificationSink.OnListenerLost(Exception exception)
    {
        if (!_outage.Absorb(exception, "listening for notifications"))
        {
            _logger.ListenerLost(exception);
        }

        Worker?.Poll();
        _waiter.PollNow();
    }
}
