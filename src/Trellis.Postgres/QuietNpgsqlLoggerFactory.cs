using Microsoft.Extensions.Logging;

namespace Trellis.Postgres;

/// <summary>
/// The logger factory Trellis hands Npgsql: the application's, with Npgsql's own categories held to warnings and
/// errors. Npgsql logs every command it executes, SQL text included, at Information; through a host's usual
/// <c>"Default": "Information"</c> that floods the log with Trellis's statements. <see cref="PostgresStoreOptions.LogSqlCommands"/>
/// hands Npgsql the application's factory as it is.
/// </summary>
internal sealed class QuietNpgsqlLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith("Npgsql", StringComparison.Ordinal) ? new WarningsOnly(logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
        // The application owns the factory.
    }

    private sealed class WarningsOnly(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
