using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Npgsql;

namespace Trellis.Postgres.Embedded;

/// <summary>
/// A private PostgreSQL server for development and tests. It uses the server binaries installed on the machine,
/// initialises a cluster in a folder, listens on a loopback port with trust authentication, and is stopped again
/// when disposed, when the process exits, or — through a small watchdog — when the process is killed.
/// </summary>
public sealed partial class EmbeddedPostgres : IAsyncDisposable
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
        Validate(options);
        var binDirectory = FindBinDirectory() ?? throw new EmbeddedPostgresException(NoBinariesMessage);
        var dataDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.DataDirectory));
        Directory.CreateDirectory(dataDirectory);

        var server = new EmbeddedPostgres(options, dataDirectory, binDirectory, TakeDirectoryLock(dataDirectory));
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
        CandidateBinDirectories().Where(HasServerBinaries).Select(Path.GetFullPath).FirstOrDefault();

    /// <summary>
    /// Walks up from AppContext.BaseDirectory (then the current directory) to the folder holding "Trellis.slnx" and
    /// returns "&lt;that&gt;/.trellis/&lt;name&gt;"; if not found, "&lt;current dir&gt;/.trellis/&lt;name&gt;".
    /// </summary>
    public static string DefaultDataDirectory(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var root = FindSolutionFolder(AppContext.BaseDirectory)
            ?? FindSolutionFolder(Directory.GetCurrentDirectory())
            ?? Directory.GetCurrentDirectory();
        return Path.Combine(root, ".trellis", name);
    }

    private static void Validate(EmbeddedPostgresOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Require(!string.IsNullOrWhiteSpace(options.DataDirectory), "DataDirectory is required.");
        Require(options.Database is not null && IdentifierPattern().IsMatch(options.Database),
            $"'{options.Database}' is not a valid database name: use letters, digits and underscores, starting with a letter or underscore, at most 63 characters.");
        Require(options.Port is null or (>= 1 and <= 65535), $"Port {options.Port} is not between 1 and 65535.");
        Require(options.StartTimeout > TimeSpan.Zero, "StartTimeout must be positive.");
        foreach (var name in options.Settings.Keys)
        {
            Require(SettingNamePattern().IsMatch(name), $"'{name}' is not a valid server setting name.");
        }

        static void Require(bool valid, string problem)
        {
            if (!valid)
            {
                throw new ArgumentException(problem, nameof(options));
            }
        }
    }

    // Only one process may run a data directory; the OS releases the lock even if this process is killed.
    private static FileStream TakeDirectoryLock(string dataDirectory)
    {
        try
        {
            return new FileStream(dataDirectory + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new EmbeddedPostgresException(
                $"The data directory {dataDirectory} is in use by another process (it holds {dataDirectory}.lock). Stop that process or use another DataDirectory.", e);
        }
    }

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
    private void StartWatchdog()
    {
        if (ReadPostmasterPid() is not { } postmasterPid)
        {
            return;
        }

        var pidFile = ShellQuote(PidFile);
        var watch = $"while kill -0 {Environment.ProcessId} 2>/dev/null; do "
            + $"read -r running < {pidFile} || exit 0; [ \"$running\" = \"{postmasterPid}\" ] || exit 0; sleep 1; done; "
            + $"read -r running < {pidFile} && [ \"$running\" = \"{postmasterPid}\" ] && kill -INT {postmasterPid}";
        var detach = File.Exists("/usr/bin/setsid") || File.Exists("/bin/setsid") ? "setsid " : "";
        var startInfo = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = "/" };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add($"{detach}/bin/sh -c {ShellQuote(watch)} </dev/null >/dev/null 2>&1 &");
        using var launcher = Process.Start(startInfo);
        launcher?.WaitForExit();
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

    private static async Task<CommandResult> RunAsync(Command command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(command.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/", // the 'postgres' user may not be allowed into the current directory
        };
        foreach (var argument in command.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new EmbeddedPostgresException($"Could not run `{command}`: {e.Message}", e);
        }

        // Drain both pipes at once: a tool blocks once the pipe nobody reads is full.
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new EmbeddedPostgresException($"`{command}` did not finish within {timeout.TotalSeconds:0} seconds and was killed.");
        }

        var output = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        return new CommandResult(command, process.ExitCode, output);
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

    // Without /proc (macOS) the check is left to pg_ctl.
    private static bool IsPostgresProcess(int pid)
    {
        var name = $"/proc/{pid}/comm";
        return !Directory.Exists("/proc/self") || (File.Exists(name) && File.ReadAllText(name).Trim() == "postgres");
    }

    private static int PickFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static IEnumerable<string> CandidateBinDirectories()
    {
        if (Environment.GetEnvironmentVariable("TRELLIS_PG_BIN") is { Length: > 0 } configured)
        {
            yield return configured;
        }

        // /usr/local/bin/pg_ctl is often a link into the versioned folder, which also holds initdb.
        foreach (var pgCtl in PathEntries().Select(entry => Path.Combine(entry, "pg_ctl")).Where(File.Exists))
        {
            var realPath = new FileInfo(pgCtl).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? pgCtl;
            yield return Path.GetDirectoryName(realPath)!;
        }

        if (PgConfigBinDirectory() is { } fromPgConfig)
        {
            yield return fromPgConfig;
        }

        if (Directory.Exists("/usr/lib/postgresql"))
        {
            var byNewestVersion = Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(folder => decimal.TryParse(Path.GetFileName(folder), NumberStyles.Number, CultureInfo.InvariantCulture, out var version) ? version : -1);
            foreach (var folder in byNewestVersion)
            {
                yield return Path.Combine(folder, "bin");
            }
        }

        yield return "/usr/local/pgsql/bin";
        yield return "/opt/homebrew/bin";
    }

    private static string? PgConfigBinDirectory()
    {
        try
        {
            var result = FindExecutable("pg_config") is { } pgConfig
                ? RunAsync(new Command(pgConfig, ["--bindir"]), TimeSpan.FromSeconds(10), CancellationToken.None).GetAwaiter().GetResult()
                : null;
            return result?.ExitCode == 0 ? result.Output.Split('\n', 2)[0].Trim() : null; // stdout comes first
        }
        catch (EmbeddedPostgresException)
        {
            return null; // a broken pg_config is just one place fewer to look
        }
    }

    private static bool HasServerBinaries(string folder) =>
        File.Exists(Path.Combine(folder, "initdb")) && File.Exists(Path.Combine(folder, "pg_ctl"));

    private static string? FindExecutable(string name, params string[] alsoIn) =>
        PathEntries().Concat(alsoIn).Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    private static string[] PathEntries() =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string? FindSolutionFolder(string start)
    {
        for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Trellis.slnx")))
            {
                return folder.FullName;
            }
        }

        return null;
    }

    // PostgreSQL refuses to run as root; geteuid also sees through sudo, unlike the user name.
    private static bool IsRoot()
    {
        try
        {
            return !OperatingSystem.IsWindows() && GetEffectiveUserId() == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return Environment.UserName == "root";
        }
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    private static string ShellQuote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string QuoteIfNeeded(string word) => SafeShellWordPattern().IsMatch(word) ? word : ShellQuote(word);

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,62}\z")]
    private static partial Regex IdentifierPattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.]*\z")]
    private static partial Regex SettingNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9_./:=,@%+-]+\z")]
    private static partial Regex SafeShellWordPattern();

    private sealed record Command(string FileName, IReadOnlyList<string> Arguments)
    {
        public override string ToString() => string.Join(' ', new[] { FileName }.Concat(Arguments).Select(QuoteIfNeeded));
    }

    private sealed record CommandResult(Command Command, int ExitCode, string Output)
    {
        public string Describe() => $"`{Command}` exited with code {ExitCode}:\n{Output.Trim()}";
    }
}

/// <summary>The embedded server could not be found, initialised, started or stopped; the message says why and what to do.</summary>
public sealed class EmbeddedPostgresException : TrellisException
{
    /// <summary>The embedded server could not be started, restarted or stopped, for the reason in <paramref name="message"/>.</summary>
    public EmbeddedPostgresException(string message) : base(message) { }

    /// <summary>The embedded server could not be started, restarted or stopped, for the reason in <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public EmbeddedPostgresException(string message, Exception? innerException) : base(message, innerException) { }
}
