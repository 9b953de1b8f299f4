using Microsoft.Extensions.Logging;
using Trellis.Postgres;

namespace Trellis.Testing;

/// <summary>Engines for tests: quick polling, short leases and retry delays, one queue per test.</summary>
public static class TestEngines
{
    public static readonly RetryPolicy QuickRetry = new() { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(200), Jitter = 0 };

    public static TrellisBuilder Builder(PostgresFixture database, ITestOutputHelper? output = null, string? queue = null)
    {
        var builder = TrellisEngine.Create()
            .UsePostgres(database.ConnectionString, pg =>
            {
                pg.Schema = database.Schema.Name;
                pg.ReadEnvironment = false;
            })
            .Configure(o =>
            {
                o.DefaultQueue = queue ?? $"q{Guid.NewGuid():N}"[..12];
                o.ResultPollInterval = TimeSpan.FromMilliseconds(250);
                o.StepRetry = QuickRetry;
                o.RunRetry = QuickRetry with { InitialDelay = TimeSpan.FromMilliseconds(50) };
            })
            .ConfigureWorker(w =>
            {
                w.PollInterval = TimeSpan.FromMilliseconds(100);
                w.LeaseDuration = TimeSpan.FromSeconds(5);
                w.ShutdownTimeout = TimeSpan.FromSeconds(5);
                w.StepStartRecordDelay = TimeSpan.FromMilliseconds(50);
            });
        if (output is not null)
        {
            builder.UseLoggerFactory(LoggerFactory.Create(b => b.AddProvider(new XunitLoggerProvider(output)).SetMinimumLevel(LogLevel.Information)));
        }

        return builder;
    }

    /// <summary>Runs the engine's store through <paramref name="rounds"/>, which counts its worker's claims.</summary>
    public static TrellisBuilder CountingClaims(this TrellisBuilder builder, PostgresFixture database, out ClaimRounds rounds)
    {
        var counter = ClaimRounds.Create();
        rounds = counter;
        return builder.UseStore(
            context => counter.Around(new PostgresStore(
                new PostgresStoreOptions { ConnectionString = database.ConnectionString, Schema = database.Schema.Name, ReadEnvironment = false },
                context.LoggerFactory)),
            PostgresStore.IsTransient);
    }

    /// <summary>A queue of the test's own, so that workers of other tests in the class take none of its runs.</summary>
    public static string NewQueue() => $"q{Guid.NewGuid():N}"[..12];

    /// <summary>An engine that only starts and reads runs (no worker), for <paramref name="workflow"/> in <paramref name="queue"/>.</summary>
    public static Task<TrellisEngine> ClientAsync<TWorkflow>(PostgresFixture database, ITestOutputHelper output, string queue, Func<IServiceProvider?, TWorkflow> workflow)
        where TWorkflow : class, IWorkflow
    {
        var builder = Builder(database, output, queue).AddWorkflow(workflow);
        builder.Options.Worker.Enabled = false;
        return builder.StartAsync();
    }
}
