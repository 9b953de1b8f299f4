using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trellis.Postgres.Embedded;

namespace Trellis.Server.Tests;

/// <summary>
/// PostgreSQL stopped in the middle of 200 runs and started again 20 s later, under a server that runs the API and a
/// worker: the process keeps running, health goes unhealthy and back, the outage is logged without a storm, and every
/// run completes, each step once.
/// </summary>
public sealed class DegradationTests(ITestOutputHelper output)
{
    private static readonly ConcurrentDictionary<int, int> StepRuns = new();

    public sealed class TwoSlowSteps : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var value = input;
            for (var i = 0; i < 2; i++)
            {
                value = await context.StepAsync($"step-{i}", async ct =>
                {
                    await Task.Delay(100, ct);
                    StepRuns.AddOrUpdate(input * 10 + i, 1, (_, n) => n + 1);
                    return value + 1;
                });
            }

            return value;
        }
    }

    [Fact]
    public async Task PostgresStoppedFor20Seconds_InTheMiddleOfTwoHundredRuns_HealthGoesUnhealthyAndBack_AndEveryRunCompletes()
    {
        // A server of its own: stopping the shared one would disturb the other test classes.
        var dataDirectory = EmbeddedPostgres.DefaultDataDirectory($"test-outage-{Guid.NewGuid():N}"[..21]);
        var database = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = dataDirectory });
        var logs = new ConcurrentQueue<(DateTimeOffset At, LogLevel Level, string Category, string Message)>();
        try
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseTestServer();
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new RecordingLoggerProvider(logs));
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            builder.Services.AddTrellis(trellis => trellis
                .UsePostgres(database.ConnectionString, pg => (pg.Schema, pg.ReadEnvironment) = ("outage", false))
                .AddWorkflow<TwoSlowSteps>()
                .Configure(o => o.ResultPollInterval = TimeSpan.FromMilliseconds(250))
                .ConfigureWorker(w =>
                {
                    w.MaxConcurrentRuns = 8;
                    w.PollInterval = TimeSpan.FromMilliseconds(200);
                    w.LeaseDuration = TimeSpan.FromSeconds(10);
                }));
            builder.Services.AddTrellisApi();
            await using var app = builder.Build();
            app.MapTrellisApi();
            await app.StartAsync();
            await ((Microsoft.Extensions.Hosting.IHost)app).WaitUntilMigratedAsync();
            var http = app.GetTestClient();
            http.Timeout = TimeSpan.FromSeconds(30);
            var client = app.Services.GetRequiredService<TrellisClient>();

            var ids = new List<string>();
            for (var i = 0; i < 200; i++)
            {
                ids.Add((await client.StartAsync<TwoSlowSteps>(i)).RunId);
            }

            await Eventually.HoldsAsync(() => StepRuns.Count >= 40, "some steps have run");
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);

            var port = database.Port;
            var stoppedAt = DateTimeOffset.UtcNow;
            await database.StopAsync();
            await Eventually.HoldsAsync(
                async () => (await http.GetAsync("/health")).StatusCode == HttpStatusCode.ServiceUnavailable, "health is unhealthy while the database is down",
                TimeSpan.FromSeconds(20));
            var down = await ApiRunTests.Json(await http.GetAsync("/health"));
            Assert.Equal("Unhealthy", down.GetProperty("status").GetString());
            output.WriteLine($"health while down: {down}");

            await Task.Delay(TimeSpan.FromSeconds(20) - (DateTimeOffset.UtcNow - stoppedAt));
            database = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = dataDirectory, Port = port });
            var startedAt = DateTimeOffset.UtcNow;
            await Eventually.HoldsAsync(
                async () => (await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK, "health is healthy again", TimeSpan.FromSeconds(30));
            output.WriteLine($"healthy again {(DateTimeOffset.UtcNow - startedAt).TotalSeconds:0.0} s after the database came back");

            for (var i = 0; i < ids.Count; i++)
            {
                Assert.Equal(i + 2, await client.GetHandle<TwoSlowSteps>(ids[i]).GetResultAsync(TimeSpan.FromSeconds(120)));
            }

            var outage = logs.Where(l => l.At >= stoppedAt && l.At < startedAt && l.Level >= LogLevel.Warning).ToList();
            foreach (var line in outage)
            {
                output.WriteLine($"{line.At:HH:mm:ss.fff} {line.Level} {line.Category}: {line.Message}");
            }

            // Trellis logs the outage once (and runs it gives up, once); the rest waits for the database at Debug.
            var trellis = outage.Where(l => l.Category.StartsWith("Trellis", StringComparison.Ordinal)).ToList();
            Assert.True(trellis.Count <= 5, $"{trellis.Count} warnings from Trellis in the 20 s outage: a log storm:\n{string.Join("\n", trellis.Select(l => $"{l.Category}: {l.Message}"))}");
            Assert.Single(trellis, l => l.Message.Contains("cannot be reached", StringComparison.Ordinal));
            Assert.Contains(logs, l => l.At >= startedAt && l.Message.Contains("answers again", StringComparison.Ordinal));
            Assert.DoesNotContain(logs, l => l.Level == LogLevel.Critical);
        }
        finally
        {
            await database.StopAsync();
            Directory.Delete(dataDirectory, recursive: true);
            File.Delete(dataDirectory + ".log");
            File.Delete(dataDirectory + ".lock");
        }
    }

    private sealed class RecordingLoggerProvider(ConcurrentQueue<(DateTimeOffset, LogLevel, string, string)> logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(logs, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<(DateTimeOffset, LogLevel, string, string)> logs, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Enqueue((DateTimeOffset.UtcNow, logLevel, category, formatter(state, exception)));
        }
    }
}
