using System.Globalization;
using static Trellis.Postgres.Embedded.ServerProcesses;

namespace Trellis.Postgres.Embedded;

/// <summary>Where the PostgreSQL server binaries (initdb, pg_ctl) are on this machine.</summary>
internal static class ServerBinaries
{
    /// <summary>A folder holding both <c>initdb</c> and <c>pg_ctl</c>, or null.</summary>
    public static string? Find() => CandidateBinDirectories().Where(HasServerBinaries).Select(Path.GetFullPath).FirstOrDefault();

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
}
