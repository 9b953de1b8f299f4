using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Trellis.Hosting.Tests;

/// <summary>What a host logging at Information, as most do, gets from Trellis: a few lines, not Npgsql's SQL.</summary>
public sealed class LoggingTests(PostgresFixture database) : IClassFixture<PostgresFixture>
{
    /// <summary>A step that fails once with a transient error, then works.</summary>
    private sealed class FlakyOnce : Workflow<int, int>
    {
        private static readonly ConcurrentDictionary<int, int> Tries = new();

        public override Task<int> RunAsync(WorkflowContext context, int input) =>
            context.StepAsync("flaky", _ => Tries.AddOrUpdate(input, 1, (_, n) => n + 1) == 1
                ? throw new IOException($"connection reset ({input})")
                : Task.FromResult(input), new StepOptions { Retry = RetryPolicy.Default with { InitialDelay = TimeSpan.FromMilliseconds(10), Jitter = 0 } });
    }

    [Fact]
    public async Task QuietHostAtInformation_LogsAFewLines_NoSqlText_AndRetryWarningsWithoutStacks()
    {
        var logs = new CapturedLogs();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Information); // "Default": "Information", as the templates have it
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<FlakyOnce>());
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        await host.WaitUntilMigratedAsync();
        var client = host.Services.GetRequiredService<TrellisClient>();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, await (await client.Workflow<FlakyOnce>().StartAsync(i)).GetResultAsync(TimeSpan.FromSeconds(30)));
        }

        var entries = logs.Entries;
        Assert.DoesNotContain(entries, e => e.Category.StartsWith("Npgsql", StringComparison.Ordinal));
        var retries = entries.Where(e => e.Category == "Trellis.Workflow" && e.Level == LogLevel.Warning).ToList();
        Assert.Equal(20, retries.Count); // one per run: its step failed once
        Assert.All(retries, e => Assert.Null(e.Exception));
        Assert.All(retries, e => Assert.Contains("IOException: connection reset", e.Message, StringComparison.Ordinal));
        var text = string.Join('\n', entries.Select(e => e.Message));
        Assert.True(text.Length < 8_000, $"{entries.Count} lines, {text.Length} characters:\n{text}");
    }

    [Fact]
    public async Task LogSqlCommands_LetsNpgsqlLogItsCommands()
    {
        var logs = new CapturedLogs();
        await using var engine = await TrellisEngine.Create()
            .UsePostgres(database.ConnectionString, pg => (pg.Schema, pg.ReadEnvironment, pg.LogSqlCommands) = (database.Schema.Name, false, true))
            .UseLoggerFactory(LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Information)))
            .AddWorkflow<FlakyOnce>()
            .StartAsync();

        Assert.Contains(logs.Entries, e => e.Category == "Npgsql.Command" && e.Level == LogLevel.Information);
    }

    private sealed class CapturedLogs : ILoggerProvider
    {
        private readonly ConcurrentQueue<Entry> _entries = new();

        public IReadOnlyList<Entry> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        public sealed record Entry(string Category, LogLevel Level, string Message, Exception? Exception);

        private sealed class Logger(CapturedLogs owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner._entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), exception));
        }
    }
}
