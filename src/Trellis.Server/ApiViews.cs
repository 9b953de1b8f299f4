using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Storage;

namespace Trellis.Server;

/// <summary>A run as the API shows it: its input and output as JSON values, not strings.</summary>
internal sealed record RunView(
    string Id, string Workflow, int Version, RunStatus Status, string Queue, int Priority, JsonNode? Input, JsonNode? Output,
    ErrorInfo? Error, string? CorrelationId, IReadOnlyDictionary<string, string> Tags, double? ProgressPercent, string? ProgressMessage,
    int Attempt, int MaxAttempts, int WorkerLosses, int MaxWorkerLosses, string? LockedBy, DateTimeOffset? LeaseExpiresAt,
    bool CancelRequested, DateTimeOffset CreatedAt, DateTimeOffset ScheduledAt, DateTimeOffset? StartedAt, DateTimeOffset UpdatedAt,
    DateTimeOffset? CompletedAt, string? WaitReason, string? ParentRunId, string? ForkedFromRunId, int? ForkedAtStep)
{
    public static RunView Of(RunInfo r) => new(
        r.Id, r.WorkflowName, r.WorkflowVersion, r.Status, r.Queue, r.Priority, Json(r.InputJson), Json(r.OutputJson), r.Error,
        r.CorrelationId, r.Tags, r.ProgressPercent, r.ProgressMessage, r.Attempt, r.MaxAttempts, r.WorkerLosses, r.MaxWorkerLosses,
        r.LockedBy, r.LeaseExpiresAt, r.CancelRequested, r.CreatedAt, r.ScheduledAt, r.StartedAt, r.UpdatedAt, r.CompletedAt,
        r.WaitReason, r.ParentRunId, r.ForkedFromRunId, r.ForkedAtStep);

    public static JsonNode? Json(string? json) => json is null ? null : JsonNode.Parse(json);
}

/// <summary>A page of runs and the cursor of the next one (null at the end).</summary>
internal sealed record RunPageView(IReadOnlyList<RunView> Runs, string? NextCursor);

/// <summary>One step row (a plain step, or one item of a per-item step).</summary>
internal sealed record StepView(
    int Sequence, int? ItemIndex, string Name, StepStatus Status, JsonNode? Result, ErrorInfo? Error, IReadOnlyList<ErrorInfo> AttemptErrors,
    int Attempts, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt)
{
    public static StepView Of(StepInfo s) =>
        new(s.Sequence, s.ItemIndex, s.Name, s.Status, RunView.Json(s.ResultJson), s.Error, s.AttemptErrors, s.Attempts, s.StartedAt, s.CompletedAt);
}

/// <summary>A per-item step's position, name and items counted; its items are read page by page.</summary>
internal sealed record PerItemStepView(
    int Sequence, string Name, int Items, int Completed, int Failed, int Running, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt)
{
    public static PerItemStepView Of(PerItemSummary p) =>
        new(p.Sequence, p.Name, p.Items, p.Completed, p.Failed, p.Running, p.FirstStartedAt, p.LastCompletedAt);
}

/// <summary>A run's steps: the plain ones in full, the per-item ones by position (their items: <c>?seq=</c>).</summary>
internal sealed record StepsView(IReadOnlyList<StepView> Steps, IReadOnlyList<PerItemStepView> PerItemSteps);

/// <summary>One page of a per-item step's items, and the item index to continue after (null at the end).</summary>
internal sealed record StepItemsView(int Sequence, IReadOnlyList<StepView> Items, int? NextAfter);

/// <summary>One event of a run's history.</summary>
internal sealed record HistoryView(DateTimeOffset At, string Event, string? WorkerId, long? Epoch, int? Attempt, JsonElement? Detail)
{
    public static HistoryView Of(RunHistoryEntry h) => new(
        h.At, h.Event, h.WorkerId, h.Epoch, h.Attempt, h.DetailJson is null ? null : JsonDocument.Parse(h.DetailJson).RootElement.Clone());
}

/// <summary>One queue's figures, the oldest ready run's age in seconds.</summary>
internal sealed record QueueView(
    string Queue, long Ready, long Scheduled, long Running, long Waiting, double OldestReadySeconds,
    long Completed, long Failed, long Cancelled, long Workers, long WorkerSlots)
{
    public static QueueView Of(QueueFigures q) => new(
        q.Queue, q.Ready, q.Scheduled, q.Running, q.Waiting, q.OldestReadyAge.TotalSeconds, q.Completed, q.Failed, q.Cancelled, q.Workers, q.WorkerSlots);
}

/// <summary>The queues' figures and their finished runs per minute.</summary>
internal sealed record QueueReportView(DateTimeOffset At, DateTimeOffset Since, IReadOnlyList<QueueView> Queues, IReadOnlyList<QueueMinute> Throughput)
{
    public static QueueReportView Of(QueueReport r) => new(r.At, r.Since, [.. r.Queues.Select(QueueView.Of)], r.Throughput);
}
