using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Trellis.Postgres;

namespace Trellis.Testing;

/// <summary>
/// A Trellis worker in its own OS process (tests/Trellis.TestWorker), so that tests can kill it
/// for real: SIGKILL, SIGSTOP and SIGCONT.
/// </summary>
public sealed partial class ChildWorker : IAsyncDisposable
{
    private const int SigStop = 19;
    private const int SigCont = 18;

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITestOutputHelper _log;

    private ChildWorker(Process process, string workerId, ITestOutputHelper log)
    {
        _process = process;
        WorkerId = workerId;
        _log = log;
    }

    public string WorkerId { get; }

    public int ProcessId => _process.Id;

    /// <summary>Everything the worker printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="mayDieStarting">The worker may end before it says it is ready (it takes a run that kills it at once):
    /// then this returns as soon as it has ended, instead of failing.</param>
    public static Task<ChildWorker> StartAsync(
        PostgresFixture database, string workerId, ITestOutputHelper log, int leaseMs = 2000, int slots = 8, int claimWindowMs = 50, bool mayDieStarting = false) =>
        StartAsync(database.ConnectionString, database.Schema, workerId, log, leaseMs, slots, claimWindowMs, mayDieStarting);

    /// <summary>A worker on a server of the test's own (not the shared test server).</summary>
    public static async Task<ChildWorker> StartAsync(
        string connectionString, SchemaName schema, string workerId, ITestOutputHelper log, int leaseMs = 2000, int slots = 8, int claimWindowMs = 50, bool mayDieStarting = false)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Trellis.TestWorker.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { dll, "--schema", schema.Name, "--worker-id", workerId, "--lease-ms", $"{leaseMs}", "--slots", $"{slots}", "--claim-window-ms", $"{claimWindowMs}" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TRELLIS_DATABASE_URL"] = connectionString;
        start.Environment.Remove("DATABASE_URL");
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the test worker.");
        var worker = new ChildWorker(process, workerId, log);
        process.OutputDataReceived += (_, e) => worker.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => worker.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var exited = process.WaitForExitAsync();
        var ready = await Task.WhenAny(worker._ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (ready != worker._ready.Task && !(mayDieStarting && ready == exited))
        {
            var output = worker.Output;
            await worker.DisposeAsync();
            throw new InvalidOperationException($"Test worker {workerId} did not become ready:\n{output}");
        }

        return worker;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Completes when the process has ended, however it ended.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>SIGKILL: the process ends at once, running nothing more.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGSTOP: the process freezes (no heartbeats, no writes) until <see cref="Resume"/>.</summary>
    public void Pause() => Signal(SigStop);

    /// <summary>SIGCONT.</summary>
    public void Resume() => Signal(SigCont);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Resume();
            try
            {
                _process.StandardInput.Close(); // asks the worker to shut down gracefully
            }
            catch (IOException)
            {
                // already gone
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }

        _log.WriteLine($"--- output of {WorkerId} ---\n{Output}");
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (line == "ready")
        {
            _ready.TrySetResult();
        }
    }

    private void Signal(int signal)
    {
        if (!_process.HasExited && Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
