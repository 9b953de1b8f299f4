using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Trellis.Postgres.Tests;

/// <summary>
/// Workers and waiters wake on LISTEN/NOTIFY; a listener connection that dies is replaced. A worker claims when
/// runs may be waiting (notified, or slots freed behind a backlog), not after every run it finishes.
/// </summary>
public sealed partial class NotificationTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class Quick : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => context.StepAsync("add", _ => Task.FromResult(input + 1));
    }

    /// <summary>An engine that polls only every 30 s: anything quicker came from a notification.</summary>
    private Task<TrellisEngine> StartSlowPollingEngineAsync() =>
        TestEngines.Builder(database, output)
            .UsePostgres(database.ConnectionString, pg => (pg.Schema, pg.ReadEnvironment, pg.ListenerCheckInterval) = (database.Schema.Name, false, TimeSpan.FromSeconds(1)))
            .AddWorkflow<Quick>()
            .Configure(o => o.ResultPollInterval = TimeSpan.FromSeconds(30))
            .ConfigureWorker(w => w.PollInterval = TimeSpan.FromSeconds(30))
            .StartAsync();

    private Task<List<object?[]>> ListenerBackendsAsync() =>
        database.RowsAsync("SELECT pid FROM pg_stat_activity WHERE application_name = $1", $"trellis:listener:{database.Schema.Name}");

    private static async Task<TimeSpan> TimeOneRunAsync(TrellisEngine engine, int input)
    {
        var watch = Stopwatch.StartNew();
        var run = await engine.Client.StartAsync<Quick>(input);
        Assert.Equal(input + 1, await run.GetResultAsync(TimeSpan.FromSeconds(60)));
        return watch.Elapsed;
    }

    [Fact]
    public async Task Listener_ConnectionTerminated_IsReplacedAndWakeUpsContinue()
    {
        await using var engine = await StartSlowPollingEngineAsync();
        await TimeOneRunAsync(engine, 1); // the first claim may come from the start-up poll
        Assert.True(await TimeOneRunAsync(engine, 2) < TimeSpan.FromSeconds(10));
        var before = (int)Assert.Single(await ListenerBackendsAsync())[0]!;

        await database.ScalarAsync<bool>("SELECT pg_terminate_backend($1)", before);
        await Eventually.HoldsAsync(async () => (await ListenerBackendsAsync()).Any(r => (int)r[0]! != before), "a new listener connection is up");

        Assert.True(await TimeOneRunAsync(engine, 3) < TimeSpan.FromSeconds(10), "woken by a notification, not the 30 s poll");
    }

    [Fact]
    public async Task Listener_ConnectionSilentlyHangs_IsDetectedAndReplaced()
    {
        await using var engine = await StartSlowPollingEngineAsync();
        await Eventually.HoldsAsync(async () => (await ListenerBackendsAsync()).Count == 1, "the listener is connected");
        var hung = (int)(await ListenerBackendsAsync())[0][0]!;

        // SIGSTOP the server process behind the listener: the socket stays open but nothing answers,
        // as with a connection cut by a firewall.
        Assert.Equal(0, Kill(hung, 19));
        try
        {
            await Eventually.HoldsAsync(
                async () => (await ListenerBackendsAsync()).Any(r => (int)r[0]! != hung),
                "a new listener connection replaced the silent one",
                TimeSpan.FromSeconds(30));
        }
        finally
        {
            Kill(hung, 18);
            await database.ScalarAsync<bool>("SELECT pg_terminate_backend($1)", hung);
        }

        Assert.True(await TimeOneRunAsync(engine, 4) < TimeSpan.FromSeconds(10), "woken by a notification, not the 30 s poll");
    }

    /// <summary>The worker's log event for each claim statement it sends ("Claimed n of m run(s)").</summary>
    private const int ClaimEvent = 1015;

    /// <summary>An engine whose worker polls only every 30 s, with its log events counted.</summary>
    private Task<TrellisEngine> StartCountingEngineAsync(LoggedEvents events, int slots) =>
        TestEngines.Builder(database, output)
            .UseLoggerFactory(LoggerFactory.Create(b => b
                .AddProvider(events).AddProvider(new XunitLoggerProvider(output))
                .SetMinimumLevel(LogLevel.Debug).AddFilter("Npgsql", LogLevel.Warning)))
            .AddWorkflow<Quick>()
            .ConfigureWorker(w => (w.PollInterval, w.MaxConcurrentRuns, w.ClaimBatchSize) = (TimeSpan.FromSeconds(30), slots, slots))
            .StartAsync();

    [Fact]
    public async Task LocalStarts_WithTheQueueEmpty_DoNotMakeTheWorkerQueryTheQueueAfterEachRun()
    {
        var events = new LoggedEvents();
        await using var engine = await StartCountingEngineAsync(events, slots: 4);
        await Eventually.HoldsAsync(() => events.Count(ClaimEvent) >= 1, "the worker's first claim (the queue is empty)");
        var claimsBefore = events.Count(ClaimEvent);

        // Each run is handed to this process's worker as it is created (the queue is empty), so when it ends,
        // nothing new can be waiting in the queue: anything new would have been announced.
        for (var i = 0; i < 20; i++)
        {
            await TimeOneRunAsync(engine, i);
        }

        Assert.Equal(claimsBefore, events.Count(ClaimEvent));
    }

    [Fact]
    public async Task FreedSlots_WithABacklog_ClaimTheRestWithoutWaitingForThePoll()
    {
        var events = new LoggedEvents();
        await using var engine = await StartCountingEngineAsync(events, slots: 2);
        var watch = Stopwatch.StartNew();
        var ids = await engine.Client.StartManyAsync<Quick>(Enumerable.Range(0, 20).Select(i => (object?)i));

        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(i + 1, await engine.Client.GetHandle<Quick>(ids[i]).GetResultAsync(TimeSpan.FromSeconds(60)));
        }

        // Two slots for twenty runs: at least ten claims, each made when a slot came free, not by the 30 s poll.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        Assert.True(events.Count(ClaimEvent) >= 10, $"{events.Count(ClaimEvent)} claims");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
