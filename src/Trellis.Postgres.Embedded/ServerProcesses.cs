using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Trellis.Postgres.Embedded;

/// <summary>Running the server's tools as processes: as the right OS user, with quoting, a timeout and both pipes drained.</summary>
internal static partial class ServerProcesses
{
    internal static async Task<CommandResult> RunAsync(Command command, TimeSpan timeout, CancellationToken cancellationToken)
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

    // Without /proc (macOS) the check is left to pg_ctl.
    internal static bool IsPostgresProcess(int pid)
    {
        var name = $"/proc/{pid}/comm";
        return !Directory.Exists("/proc/self") || (File.Exists(name) && File.ReadAllText(name).Trim() == "postgres");
    }

    internal static int PickFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string? FindExecutable(string name, params string[] alsoIn) =>
        PathEntries().Concat(alsoIn).Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    internal static string[] PathEntries() =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    // PostgreSQL refuses to run as root; geteuid also sees through sudo, unlike the user name.
    internal static bool IsRoot()
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
    internal static extern uint GetEffectiveUserId();

    internal static string ShellQuote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    internal static string QuoteIfNeeded(string word) => SafeShellWordPattern().IsMatch(word) ? word : ShellQuote(word);

    [GeneratedRegex(@"^[A-Za-z0-9_./:=,@%+-]+\z")]
    internal static partial Regex SafeShellWordPattern();

    internal sealed record Command(string FileName, IReadOnlyList<string> Arguments)
    {
        public override string ToString() => string.Join(' ', new[] { FileName }.Concat(Arguments).Select(QuoteIfNeeded));
    }

    internal sealed record CommandResult(Command Command, int ExitCode, string Output)
    {
        public string Describe() => $"`{Command}` exited with code {ExitCode}:\n{Output.Trim()}";
    }

    /// <summary>
    /// Starts a detached shell loop that sends the server a fast shutdown (SIGINT) once this process is gone, while
    /// <paramref name="pidFile"/> still names <paramref name="postmasterPid"/>: a killed test run leaves no server behind.
    /// </summary>
    internal static void StartWatchdog(string pidFile, int postmasterPid)
    {
        var quotedPidFile = ShellQuote(pidFile);
        var watch = $"while kill -0 {Environment.ProcessId} 2>/dev/null; do "
            + $"read -r running < {quotedPidFile} || exit 0; [ \"$running\" = \"{postmasterPid}\" ] || exit 0; sleep 1; done; "
            + $"read -r running < {quotedPidFile} && [ \"$running\" = \"{postmasterPid}\" ] && kill -INT {postmasterPid}";
        var detach = File.Exists("/usr/bin/setsid") || File.Exists("/bin/setsid") ? "setsid " : "";
        var startInfo = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = "/" };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add($"{detach}/bin/sh -c {ShellQuote(watch)} </dev/null >/dev/null 2>&1 &");
        using var launcher = Process.Start(startInfo);
        launcher?.WaitForExit();
    }
}
