namespace Trellis;

/// <summary>How a run ended: its final status with its output or error.</summary>
public sealed record RunOutcome(string RunId, RunStatus Status, string? OutputJson, ErrorInfo? Error)
{
    internal static RunOutcome From(RunInfo run) => new(run.Id, run.Status, run.OutputJson, run.Error);
}
