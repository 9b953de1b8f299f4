using Npgsql;
using Trellis.Server;

namespace Trellis.Cli;

/// <summary>What the command's exit code says; scripts can rely on these.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The operation failed (a server error, a run that failed when waited for).</summary>
    public const int Failed = 1;

    /// <summary>Bad usage or input: an unknown option, a malformed value, a workflow that is not registered.</summary>
    public const int BadInput = 2;

    /// <summary>No run has the given id.</summary>
    public const int NotFound = 3;

    /// <summary>The request makes no sense for the run as it is (retrying a completed run, say); nothing changed.</summary>
    public const int Refused = 4;

    /// <summary>The database cannot be reached, or its schema is not migrated.</summary>
    public const int DatabaseUnavailable = 5;

    public static int Of(Exception exception) => exception switch
    {
        RunNotFoundException => NotFound,
        Problems.RequestException => BadInput,
        RunControlException or RunConflictException => Refused,
        ArgumentException or FormatException or InvalidRunInputException or UnknownWorkflowException or System.Text.Json.JsonException => BadInput,
        NpgsqlException or StoreConfigurationException or System.Net.Sockets.SocketException or TimeoutException => DatabaseUnavailable,
        TrellisException e when e.Message.Contains("migrat", StringComparison.OrdinalIgnoreCase) => DatabaseUnavailable,
        _ => Failed,
    };
}
