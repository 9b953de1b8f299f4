using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trellis.Hosting.Tests;

public sealed class OptionsTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>Held open by the test; a run stays in its step until <see cref="Open"/>.</summary>
    public sealed class Gate
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _entered;

        public int Entered => Volatile.Read(ref _entered);

        public Task EnterAsync()
        {
            Interlocked.Increment(ref _entered);
            return _open.Task;
        }

        public void Open() => _open.TrySetResult();
    }

    private sealed class Held(Gate gate) : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) =>
            context.StepAsync("held", async _ =>
            {
                await gate.EnterAsync();
                return input;
            });
    }

    [Fact]
    public async Task Configure_AfterAddTrellis_IsAppliedToEngineOptions()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow(_ => new Held(new Gate())));
        builder.Services.Configure<TrellisOptions>(o => o.Worker.MaxConcurrentRuns = 3);
        await using var host = builder.BuildTestHost();
        var engine = host.Services.GetRequiredService<TrellisEngine>();

        Assert.Equal(3, engine.Options.Worker.MaxConcurrentRuns);
        Assert.Same(engine.Options, host.Services.GetRequiredService<IOptions<TrellisOptions>>().Value);
        Assert.Equal(TimeSpan.FromMilliseconds(100), engine.Options.Worker.PollInterval); // the builder's settings stay
    }

    [Fact]
    public async Task Configure_BoundFromConfiguration_IsAppliedToEngineOptions()
    {
        var builder = TestHosts.Builder(output);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Trellis:DefaultQueue"] = "emails",
            ["Trellis:Worker:MaxConcurrentRuns"] = "5",
            ["Trellis:Worker:ShutdownTimeout"] = "00:00:02",
        });
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow(_ => new Held(new Gate())));
        builder.Services.Configure<TrellisOptions>(builder.Configuration.GetSection("Trellis"));
        await using var host = builder.BuildTestHost();
        var options = host.Services.GetRequiredService<TrellisEngine>().Options;

        Assert.Equal("emails", options.DefaultQueue);
        Assert.Equal(5, options.Worker.MaxConcurrentRuns);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Worker.ShutdownTimeout);
    }

    [Fact]
    public async Task AddTrellisWithASection_BindsTheEngineTheWorkerAndTheStore_AndCodeWins()
    {
        var builder = TestHosts.Builder(output);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Trellis:DefaultQueue"] = "from-config",
            ["Trellis:MaxWorkerLosses"] = "9",
            ["Trellis:StepRetry:MaxAttempts"] = "5",
            ["Trellis:Worker:MaxConcurrentRuns"] = "6",
            ["Trellis:Worker:LeaseDuration"] = "00:00:45",
            ["Trellis:Postgres:ConnectionString"] = database.ConnectionString,
            ["Trellis:Postgres:Schema"] = database.Schema.Name,
            ["Trellis:Postgres:MaxPoolSize"] = "7",
            ["Trellis:Postgres:ReadEnvironment"] = "false",
        });
        builder.Services.AddTrellis(builder.Configuration.GetSection("Trellis"), t => t
            .UsePostgres()
            .AddWorkflow(_ => new Held(new Gate()))
            .ConfigureWorker(w => w.MaxConcurrentRuns = 3)); // code wins over configuration
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        await host.WaitUntilMigratedAsync();
        var engine = host.Services.GetRequiredService<TrellisEngine>();
        var store = Assert.IsType<Trellis.Postgres.PostgresStore>(engine.Store);

        Assert.Equal(("from-config", 9, 5), (engine.Options.DefaultQueue, engine.Options.MaxWorkerLosses, engine.Options.StepRetry.MaxAttempts));
        Assert.Equal((3, TimeSpan.FromSeconds(45)), (engine.Options.Worker.MaxConcurrentRuns, engine.Options.Worker.LeaseDuration));
        Assert.Equal(database.Schema.Name, store.Schema.Name);
        Assert.Equal(7, new Npgsql.NpgsqlConnectionStringBuilder(store.DataSource.ConnectionString).MaxPoolSize);
    }

    [Fact]
    public async Task Configure_MaxConcurrentRunsThree_WorkerRunsAtMostThreeAtOnce()
    {
        var gate = new Gate();
        var builder = TestHosts.Builder(output);
        builder.Services.AddSingleton(gate);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<Held>());
        builder.Services.Configure<TrellisOptions>(o => o.Worker.MaxConcurrentRuns = 3);
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            await host.WaitUntilMigratedAsync();
            var client = host.Services.GetRequiredService<TrellisClient>();
            var runs = new List<RunHandle<Held>>();
            for (var i = 0; i < 5; i++)
            {
                runs.Add(await client.StartAsync<Held>(i));
            }

            await Eventually.HoldsAsync(() => gate.Entered == 3, "three runs are in their step");
            await Task.Delay(500); // several poll intervals: a fourth run would be claimed by now

            Assert.Equal(3, gate.Entered);
            Assert.Equal(3, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE status = 'running'"));
            Assert.Equal(2, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE status = 'pending'"));

            gate.Open();
            foreach (var (run, i) in runs.Select((r, i) => (r, i)))
            {
                Assert.Equal(i, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
            }
        }
        finally
        {
            gate.Open();
            await host.StopAndDisposeAsync();
        }
    }

    [Fact]
    public async Task StartAsync_InvalidOptionFromConfigure_FailsNamingTheOption()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow(_ => new Held(new Gate())));
        builder.Services.Configure<TrellisOptions>(o => o.Worker.MaxConcurrentRuns = 0);
        await using var host = builder.BuildTestHost();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => host.StartAsync(timeout.Token));

        Assert.Contains("MaxConcurrentRuns", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OptionsMonitorAndValidators_AreTheEnginesOptionsAndAreRun()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow(_ => new Held(new Gate())));
        builder.Services.AddOptions<TrellisOptions>().Validate(o => o.Worker.MaxConcurrentRuns <= 64, "at most 64 slots on this service");
        builder.Services.Configure<TrellisOptions>(o => o.Worker.MaxConcurrentRuns = 100);
        await using var host = builder.BuildTestHost();
        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<TrellisEngine>());
        Assert.Contains("at most 64 slots", error.Message, StringComparison.Ordinal);

        var valid = TestHosts.Builder(output);
        valid.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow(_ => new Held(new Gate())));
        await using var validHost = valid.BuildTestHost();
        var engine = validHost.Services.GetRequiredService<TrellisEngine>();
        Assert.Same(engine.Options, validHost.Services.GetRequiredService<IOptionsMonitor<TrellisOptions>>().CurrentValue);
        Assert.Equal(TimeSpan.FromMilliseconds(100), validHost.Services.GetRequiredService<IOptionsMonitor<TrellisOptions>>().CurrentValue.Worker.PollInterval);
    }
}
