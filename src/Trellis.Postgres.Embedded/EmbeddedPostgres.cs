using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using static Trellis.Postgres.Embedded.ServerProcesses;

namespace Trellis.Postgres.Embedded;

/// <summary>
/// A private PostgreSQL server for development and tests. It uses the server binaries installed on the machine,
/// initialises a cluster in a folder, listens on a loopback port with trust authentication, and is stopped again
/// when disposed, when the process exits, or — through a small watchdog — when the process is killed.
/// </summary>
public sealed class EmbeddedPostgres : IAsyncDisposable
{
    private const string SuperUser = "postgres";
    private const string ServerOsUser = "postgres";
    private const int StartAttemptsOnPickedPorts = 4; // the first attempt plus three retries on a new port
    private const int LogLinesInErrors = 40;

    // pg_ctl is given the timeout itself; ours only catches a hung tool, so it allows a little longer.
    private static readonly TimeSpan ToolGrace = TimeSpan.FromSeconds(15);

    private const string NoBinariesMessage =
        "No PostgreSQL server binaries were found (looked for initdb and pg_ctl in TRELLIS_PG_BIN, on PATH, in `pg_config --bindir` "
        + "and under /usr/lib/postgresql/*/bin). Install them (Debian/Ubuntu: `sudo apt-get install postgresql`; "
        + "macOS: `brew install postgresql@15`) or set TRELLIS_DATABASE_URL to the connection string of an existing server.";

    private readonly EmbeddedPostgresOptions _options;
    private readonly FileStream _directoryLock;
    private readonly bool _runAsServerOsUser;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _stopped;

    private EmbeddedPostgres(EmbeddedPostgresOptions options, string dataDirectory, string binDirectory, FileStream directoryLock)
    {
        _options = options;
        _directoryLock = directoryLock;
        _runAsServerOsUser = IsRoot();
        DataDirectory = dataDirectory;
        BinDirectory = binDirectory;
    }

    /// <summary><c>Host=127.0.0.1;Port=…;Username=postgres;Database=…</c> (trust authentication, no password).</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Database = _options.Database,
    }.ConnectionString;

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The cluster's folder.</summary>
    public string DataDirectory { get; }

    /// <summary>The folder of the PostgreSQL server binaries in use.</summary>
    public string BinDirectory { get; }

    /// <summary>The server log, next to the data directory.</summary>
    public string LogFile => DataDirectory + ".log";

    private string PidFile => Path.Combine(DataDirectory, "postmaster.pid");

    private TimeSpan ToolTimeout => _options.StartTimeout + ToolGrace;

    private string TimeoutSeconds => ((int)Math.Ceiling(_options.StartTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>Initialises the cluster if needed, starts the server and creates the database if missing.</summary>
    public static async Task<EmbeddedPostgres> StartAsync(EmbeddedPostgresOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var binDirectory = FindBinDirectory() ?? throw new EmbeddedPostgresException(NoBinariesMessage);
        var dataDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.DataDirectory));
        Directory.CreateDirectory(dataDirectory);

        var server = new EmbeddedPostgres(options, dataDirectory, binDirectory, DataDirectories.TakeLock(dataDirectory));
        try
        {
            await server.PrepareDataDirectoryAsync(cancellationToken).ConfigureAwait(false);
            await server.StartServerAsync(cancellationToken).ConfigureAwait(false);
            await server.CreateDatabaseAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.StopQuietlyAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Restarts the server on the same port (<c>-m immediate</c> simulates a crash) and waits until it accepts connections.</summary>
    public async Task RestartAsync(bool immediate, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            var result = await RunAsync(
                ServerTool("pg_ctl", "restart", "-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", TimeoutSeconds, "-l", LogFile, "-o", ServerOptions()),
                ToolTimeout, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new EmbeddedPostgresException($"PostgreSQL did not restart. {result.Describe()}\n{TailOfLog()}");
            }

            StartWatchdog(); // the postmaster has a new process id
            var probe = await OpenAdminConnectionAsync(cancellationToken).ConfigureAwait(false);
            await probe.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the server (<c>pg_ctl stop -m fast</c>) and frees the data directory; later calls do nothing.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }

            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            await StopServerAsync("fast", cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _stopped = true;
            await _directoryLock.DisposeAsync().ConfigureAwait(false);
            _gate.Release();
        }
    }

    /// <summary>Stops the server (see <see cref="StopAsync"/>).</summary>
    public ValueTask DisposeAsync() => new(StopAsync());

    /// <summary>A folder holding both <c>initdb</c> and <c>pg_ctl</c>, or <see langword="null"/> when none is found.</summary>
    public static string? FindBinDirectory() =>
        ServerBinaries.Find();

    /// <summary>
    /// Walks up from AppContext.BaseDirectory (then the current directory) to the folder holding "Trellis.slnx" and
    /// returns "&lt;that&gt;/.trellis/&lt;name&gt;"; if not found, "&lt;current dir&gt;/.trellis/&lt;name&gt;".
    /// </summary>
    public static string DefaultDataDirectory(string name) => DataDirectories.Default(name);

    private async Task PrepareDataDirectoryAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(LogFile))
        {
            await File.WriteAllTextAsync(LogFile, string.Empty, cancellationToken).ConfigureAwait(false);
        }

        if (_runAsServerOsUser)
        {
            var user = await RunAsync(new Command("id", ["-u", ServerOsUser]), ToolTimeout, cancellationToken).ConfigureAwait(false);
            if (user.ExitCode != 0)
            {
                throw new EmbeddedPostgresException(
                    "PostgreSQL refuses to run as root and there is no 'postgres' user: create one (useradd -r postgres) or run as a normal user.");
            }

            // The server runs as 'postgres', so it must own its folder and be able to append to its log.
            await RunCheckedAsync(new Command("chown", ["-R", $"{ServerOsUser}:{ServerOsUser}", DataDirectory, LogFile]), "Could not hand the data directory to the 'postgres' user", cancellationToken).ConfigureAwait(false);
            AllowTraversalToDataDirectory();
        }

        if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            await RunCheckedAsync(
                ServerTool("initdb", "-D", DataDirectory, "-U", SuperUser, "-A", "trust", "-E", "UTF8", "--no-locale"),
                "initdb could not create the cluster", cancellationToken).ConfigureAwait(false);
        }

        await StopLeftoverServerAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The 'postgres' user must be able to reach the data folder inside the project, whose parents may be
    /// private to root (a checkout under <c>mktemp -d</c> is mode 700). Each parent that lacks it gets the
    /// search bit for others (o+x): that lets a process pass through the folder, not list or read it.
    /// </summary>
    private void AllowTraversalToDataDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // only root on Unix runs the server as another user
        }

        for (var directory = Path.GetDirectoryName(DataDirectory); !string.IsNullOrEmpty(directory); directory = Path.GetDirectoryName(directory))
        {
            var mode = File.GetUnixFileMode(directory);
            if ((mode & UnixFileMode.OtherExecute) == 0)
            {
                File.SetUnixFileMode(directory, mode | UnixFileMode.OtherExecute);
            }
        }
    }

    // A process that was killed may have left its server running (or just its postmaster.pid) in the folder.
    private async Task StopLeftoverServerAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(PidFile))
        {
            return;
        }

        // After a reboot the recorded pid may belong to an unrelated process, which pg_ctl would signal.
        if (ReadPostmasterPid() is { } pid && !IsPostgresProcess(pid))
        {
            File.Delete(PidFile);
            return;
        }

        var status = await RunAsync(ServerTool("pg_ctl", "status", "-D", DataDirectory), ToolTimeout, cancellationToken).ConfigureAwait(false);
        if (status.ExitCode == 0)
        {
            await StopServerAsync("immediate", cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var attempts = _options.Port is null ? StartAttemptsOnPickedPorts : 1;
        for (var attempt = 1; ; attempt++)
        {
            Port = _options.Port ?? PickFreePort();
            var result = await RunAsync(
                ServerTool("pg_ctl", "start", "-D", DataDirectory, "-w", "-t", TimeoutSeconds, "-l", LogFile, "-o", ServerOptions()),
                ToolTimeout, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode == 0)
            {
                break;
            }

            if (attempt >= attempts)
            {
                throw new EmbeddedPostgresException($"PostgreSQL did not start on port {Port}. {result.Describe()}\n{TailOfLog()}");
            }

            // Most often another process took the picked port first; a start that timed out may still be running.
            await StopLeftoverServerAsync(cancellationToken).ConfigureAwait(false);
        }

        StartWatchdog();
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    private async Task CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAdminConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
        exists.Parameters.Add(new NpgsqlParameter { Value = _options.Database });
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            // The name was validated as a plain identifier, so quoting it is enough.
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_options.Database}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    // pg_ctl -w already waits for the server to report "ready"; connecting proves it from the client's side.
    private async Task<NpgsqlConnection> OpenAdminConnectionAsync(CancellationToken cancellationToken)
    {
        var settings = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres", Pooling = false };
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            var connection = new NpgsqlConnection(settings.ConnectionString);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return connection;
            }
            catch (NpgsqlException e)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                if (elapsed.Elapsed > _options.StartTimeout)
                {
                    throw new EmbeddedPostgresException($"PostgreSQL on port {Port} accepts no connections: {e.Message}\n{TailOfLog()}", e);
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task StopServerAsync(string mode, CancellationToken cancellationToken)
    {
        if (!File.Exists(PidFile))
        {
            return;
        }

        var result = await RunAsync(ServerTool("pg_ctl", "stop", "-D", DataDirectory, "-m", mode, "-w", "-t", TimeoutSeconds), ToolTimeout, cancellationToken).ConfigureAwait(false);
        // A non-zero exit with the pid file gone means the server was not running after all.
        if (result.ExitCode != 0 && File.Exists(PidFile))
        {
            throw new EmbeddedPostgresException($"PostgreSQL did not stop. {result.Describe()}\n{TailOfLog()}");
        }
    }

    // Handlers do not run when the process is killed (SIGKILL, a test host torn down with its process tree), so a
    // detached shell waits for this process to disappear and then asks the postmaster for a fast shutdown (SIGINT,
    // what pg_ctl stop -m fast sends). It is started through a shell that exits at once, so it belongs to no process
    // tree that could be killed with ours, and in a session of its own (setsid), so a Ctrl+C does not reach it.
    // It signals the postmaster only while postmaster.pid still names it, and ends by itself as soon as the server
    // is stopped or restarted, so it never touches a server that another start put in the same folder.
    // A small shell loop that stops the server if this process dies without stopping it (a SIGKILL).
    private void StartWatchdog()
    {
        if (ReadPostmasterPid() is { } postmasterPid)
        {
            ServerProcesses.StartWatchdog(PidFile, postmasterPid);
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => StopQuietlyAsync().GetAwaiter().GetResult();

    // Used where nothing can be reported: the original failure is the one worth throwing, and an exiting process
    // has no one to tell. The next start in this folder stops whatever is left.
    private async Task StopQuietlyAsync()
    {
        try
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EmbeddedPostgresException or IOException or UnauthorizedAccessException)
        {
        }
    }

    // Everything after -o goes through /bin/sh inside pg_ctl, hence the quoting.
    private string ServerOptions()
    {
        var arguments = new List<string>
        {
            "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=", // TCP only: the default socket folder may not exist or be writable
        };
        foreach (var (name, value) in _options.Settings)
        {
            arguments.Add("-c");
            arguments.Add($"{name}={value}");
        }

        return string.Join(' ', arguments.Select(QuoteIfNeeded));
    }

    // PostgreSQL refuses to run as root, so as root its tools run as the 'postgres' OS user.
    private Command ServerTool(string tool, params string[] arguments)
    {
        var path = Path.Combine(BinDirectory, tool);
        if (!_runAsServerOsUser)
        {
            return new Command(path, arguments);
        }

        if (FindExecutable("runuser", "/usr/sbin", "/sbin") is { } runuser)
        {
            return new Command(runuser, ["-u", ServerOsUser, "--", path, .. arguments]);
        }

        return new Command("su", [ServerOsUser, "-s", "/bin/sh", "-c", string.Join(' ', new[] { path }.Concat(arguments).Select(ShellQuote))]);
    }

    private async Task RunCheckedAsync(Command command, string failure, CancellationToken cancellationToken)
    {
        var result = await RunAsync(command, ToolTimeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new EmbeddedPostgresException($"{failure}. {result.Describe()}");
        }
    }

    private string TailOfLog()
    {
        try
        {
            return $"Last lines of {LogFile}:\n" + string.Join('\n', File.ReadLines(LogFile).TakeLast(LogLinesInErrors));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"({LogFile} could not be read: {e.Message})";
        }
    }

    private int? ReadPostmasterPid()
    {
        try
        {
            var firstLine = File.ReadLines(PidFile).FirstOrDefault();
            return int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
