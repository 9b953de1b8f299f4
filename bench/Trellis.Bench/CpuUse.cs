using System.Diagnostics;

namespace Trellis.Bench;

/// <summary>
/// CPU time spent by this process (the engine: client and worker) and by the PostgreSQL server's processes
/// on this machine, between two snapshots. On two cores the workloads are CPU-bound: CPU time per run splits
/// their cost between the engine and the database, and bounds the rate the cores allow (it drifts with the
/// shared machine too, but waits do not count in it). The server's processes are found by name, so the
/// database figure is empty unless PostgreSQL runs on the benchmark's machine (as in bench/run.sh); a backend
/// that exits between the snapshots is not counted.
/// </summary>
internal sealed class CpuUse
{
    private readonly TimeSpan _engine;
    private readonly Dictionary<int, TimeSpan> _database;

    private CpuUse(TimeSpan engine, Dictionary<int, TimeSpan> database)
    {
        _engine = engine;
        _database = database;
    }

    public static CpuUse Now()
    {
        using var self = Process.GetCurrentProcess();
        return new CpuUse(self.TotalProcessorTime, DatabaseProcesses());
    }

    /// <summary>Microseconds of CPU per unit of work (a run) since <paramref name="start"/>, engine and database.</summary>
    public static Dictionary<string, object?> PerUnitSince(CpuUse start, int units)
    {
        var end = Now();
        var database = end._database.Sum(p => (p.Value - start._database.GetValueOrDefault(p.Key)).TotalMicroseconds);
        return new()
        {
            ["engineUs"] = Math.Round((end._engine - start._engine).TotalMicroseconds / units, 2),
            ["databaseUs"] = end._database.Count == 0 ? null : Math.Round(database / units, 2),
        };
    }

    private static Dictionary<int, TimeSpan> DatabaseProcesses()
    {
        var times = new Dictionary<int, TimeSpan>();
        foreach (var process in Process.GetProcessesByName("postgres"))
        {
            using (process)
            {
                try
                {
                    times[process.Id] = process.TotalProcessorTime;
                }
                catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Exited since it was listed, or not readable by this user.
                }
            }
        }

        return times;
    }
}
