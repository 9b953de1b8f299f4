using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Client;
using Trellis.Maintenance;
using Trellis.Storage;

namespace Trellis;

/// <summary>
/// What a store factory gets from the engine; <paramref name="Configuration"/> is the section given to
/// <see cref="TrellisBuilder.UseConfiguration"/>, where a store finds its own settings (the PostgreSQL store: "Postgres").
/// </summary>
public sealed record StoreContext(TrellisOptions Options, ILoggerFactory LoggerFactory, TimeProvider TimeProvider, IConfiguration? Configuration = null);

/// <summary>
/// Configures a <see cref="TrellisEngine"/>: the store, the workflows and the options. Used directly
/// by scripts and tests, and by <c>services.AddTrellis(...)</c> under dependency injection.
/// </summary>
public sealed class TrellisBuilder
{
    private Func<StoreContext, IWorkflowStore>? _storeFactory;
    private Func<Exception, bool>? _isTransient;
    private readonly List<Func<IWorkflowStore, MaintenanceService>> _addedMaintenance = [];

    /// <summary>The workflows the engine can start and run.</summary>
    public WorkflowRegistry Workflows { get; } = new();

    /// <summary>The engine's settings.</summary>
    public TrellisOptions Options { get; } = new();

    /// <summary>Where the engine logs. Default: nowhere.</summary>
    public ILoggerFactory LoggerFactory { get; private set; } = NullLoggerFactory.Instance;

    /// <summary>The clock the engine reads and waits on. Default: the system's.</summary>
    public TimeProvider TimeProvider { get; private set; } = TimeProvider.System;

    /// <summary>Registers a workflow under its name and version (see <see cref="WorkflowAttribute"/>).</summary>
    public TrellisBuilder AddWorkflow<TWorkflow>(Func<IServiceProvider?, TWorkflow>? factory = null)
        where TWorkflow : class, IWorkflow
    {
        Workflows.Add(factory);
        return this;
    }

    /// <summary>
    /// Sets the store. <paramref name="isTransient"/> tells which of the store's errors are worth retrying
    /// (a dropped connection) and which are not (a rejected value).
    /// </summary>
    public TrellisBuilder UseStore(Func<StoreContext, IWorkflowStore> factory, Func<Exception, bool>? isTransient = null)
    {
        _storeFactory = factory ?? throw new ArgumentNullException(nameof(factory));
        _isTransient = isTransient;
        return this;
    }

    /// <summary>The configuration section given to <see cref="UseConfiguration"/>, if any.</summary>
    public IConfiguration? Configuration { get; private set; }

    /// <summary>
    /// Binds <see cref="Options"/> from a configuration section (its keys as the options' names: <c>DefaultQueue</c>,
    /// <c>Worker:MaxConcurrentRuns</c>, <c>StepRetry:MaxAttempts</c>, times as <c>00:00:30</c>), now, and keeps the
    /// section for the store, which binds its own settings from its subsection when it is built (the PostgreSQL store:
    /// <c>Postgres</c>, e.g. <c>Trellis:Postgres:Schema</c>). Settings made in code after this call win.
    /// </summary>
    public TrellisBuilder UseConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        section.Bind(Options);
        Configuration = section;
        return this;
    }

    /// <summary>Changes the engine's settings.</summary>
    public TrellisBuilder Configure(Action<TrellisOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(Options);
        return this;
    }

    /// <summary>Changes the worker's settings.</summary>
    public TrellisBuilder ConfigureWorker(Action<WorkerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(Options.Worker);
        return this;
    }

    /// <summary>Logs through <paramref name="loggerFactory"/>.</summary>
    public TrellisBuilder UseLoggerFactory(ILoggerFactory loggerFactory)
    {
        LoggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        return this;
    }

    /// <summary>Reads time and waits through <paramref name="timeProvider"/>, e.g. a controllable clock in tests.</summary>
    public TrellisBuilder UseTimeProvider(TimeProvider timeProvider)
    {
        TimeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        return this;
    }

    /// <summary>Adds a maintenance service the engine runs beside its worker (one that runs on the leader, e.g.).</summary>
    internal TrellisBuilder AddMaintenance(Func<IWorkflowStore, MaintenanceService> create)
    {
        _addedMaintenance.Add(create);
        return this;
    }

    /// <summary>Builds the engine without starting it. <paramref name="services"/> is used to create workflows.</summary>
    public TrellisEngine Build(IServiceProvider? services = null) =>
        new(BuildStore(), _isTransient ?? DefaultIsTransient, Workflows, Options, LoggerFactory, TimeProvider, services, _addedMaintenance);

    /// <summary>
    /// Builds a client on its own, for a process that starts, reads, awaits and cancels runs but executes none (a web
    /// API, a command line tool): no worker, no migration, no warm-up, and no listening connection until the first
    /// wait for a result. Workflows added with <see cref="AddWorkflow{TWorkflow}"/> can be started by type; any workflow
    /// some worker registered can be started by name. The schema must exist: an engine migrates it as it starts, or
    /// call <see cref="IWorkflowStore.MigrateAsync"/>. Dispose the client to release its connections.
    /// </summary>
    public TrellisClient BuildClient()
    {
        var store = BuildStore();
        var serializer = new TrellisSerializer(Options.JsonSerializerOptions);
        var logger = LoggerFactory.CreateLogger("Trellis");
        var waiter = new ResultWaiter(store, serializer, Options.ResultPollInterval, TimeProvider, logger);
        var starter = new RunStarter(store);
        var listener = new ClientListener(store, waiter, logger);
        waiter.BeforeWaiting = listener.EnsureListening;
        return new TrellisClient(store, Workflows, Options, serializer, waiter, starter, localWorker: null, new DisposeInOrder(listener, starter, waiter, store));
    }

    /// <summary>Builds the engine and starts it: migrations, notifications and, if enabled, the worker.</summary>
    public async Task<TrellisEngine> StartAsync(CancellationToken cancellationToken = default)
    {
        var engine = Build();
        try
        {
            await engine.StartAsync(cancellationToken).ConfigureAwait(false);
            return engine;
        }
        catch
        {
            await engine.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private IWorkflowStore BuildStore()
    {
        Options.Validate();
        if (_storeFactory is null)
        {
            throw new InvalidOperationException("No store is configured. Call UsePostgres(...) (package Trellis.Postgres) or UseStore(...).");
        }

        return _storeFactory(new StoreContext(Options, LoggerFactory, TimeProvider, Configuration));
    }

    private static bool DefaultIsTransient(Exception exception) => ErrorClassifier.Classify(exception) == ErrorKind.Transient;
}

/// <summary>What a client built on its own holds, released in the order given.</summary>
file sealed class DisposeInOrder(params IAsyncDisposable[] resources) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (var resource in resources)
        {
            await resource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
