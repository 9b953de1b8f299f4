using System.Net.Sockets;
using Npgsql;

namespace Trellis.Postgres;

/// <summary>
/// Turns the connection failures a user must fix (a wrong password, a missing database, a server that cannot be
/// reached) into a <see cref="StoreConfigurationException"/> that says so and names the setting the connection came
/// from, instead of a bare driver error. Failures that may pass by themselves are left as they are.
/// </summary>
internal sealed class ConnectionFailures(NpgsqlConnectionStringBuilder where, string setting)
{
    /// <summary>Where the connection settings came from: an option, or an environment variable.</summary>
    public string Setting { get; } = setting;

    public StoreConfigurationException? Explain(Exception exception)
    {
        var server = $"PostgreSQL at {where.Host}:{where.Port}";
        var postgres = Find<PostgresException>(exception);
        var message = postgres?.SqlState switch
        {
            PostgresErrorCodes.InvalidPassword =>
                $"{server} refused the password of user '{where.Username}' (28P01). Fix the password in {Setting}.",
            PostgresErrorCodes.InvalidAuthorizationSpecification =>
                $"{server} does not let user '{where.Username}' connect to database '{where.Database}' (28000: {postgres.MessageText}). "
                + $"Check the user in {Setting}, and the server's pg_hba.conf.",
            PostgresErrorCodes.InvalidCatalogName =>
                $"Database '{where.Database}' does not exist on {server} (3D000). Create it, or name an existing database in {Setting}.",
            _ when postgres is null && (Find<SocketException>(exception) is not null || Find<TimeoutException>(exception) is not null) =>
                $"{server} cannot be reached ({Innermost(exception).Message}). Check the host and port in {Setting}, and that the server "
                + "is running and accepts connections.",
            _ => null,
        };
        return message is null ? null : new StoreConfigurationException(message, Setting, exception);
    }

    /// <summary>Runs <paramref name="operation"/>, explaining the failures a user must fix.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (Exception ex) when (Explain(ex) is { } explained)
        {
            throw explained;
        }
    }

    private static T? Find<T>(Exception exception)
        where T : Exception
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }

        return null;
    }

    private static Exception Innermost(Exception exception)
    {
        while (exception.InnerException is { } inner)
        {
            exception = inner;
        }

        return exception;
    }
}
