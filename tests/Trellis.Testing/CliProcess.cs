using System.Diagnostics;

namespace Trellis.Testing;

/// <summary>The <c>trellis</c> command run as a process, as a user runs it (<c>dotnet Trellis.Cli.dll …</c>), on the test's schema.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>The built command next to this test's build (same configuration).</summary>
    public static string Dll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<configuration>/net10.0
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (!File.Exists(Path.Combine(root.FullName, "Trellis.slnx")))
            {
                root = root.Parent!;
            }

            return Path.Combine(root.FullName, "src", "Trellis.Cli", "bin", configuration, "net10.0", "Trellis.Cli.dll");
        }
    }

    public static ProcessStartInfo StartInfo(PostgresFixture database, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TRELLIS_DATABASE_URL"] = database.ConnectionString;
        start.Environment["TRELLIS_SCHEMA"] = database.Schema.Name;
        start.Environment.Remove("DATABASE_URL");
        return start;
    }

    public static async Task<Result> RunAsync(PostgresFixture database, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(database, arguments))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await output, await error);
    }
}
