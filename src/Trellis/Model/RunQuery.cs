namespace Trellis;

/// <summary>Filters and paging for listing runs. Newest first.</summary>
public sealed class RunQuery
{
    public RunStatus? Status { get; init; }
    public string? WorkflowName { get; init; }
    public string? CorrelationId { get; init; }

    /// <summary>Only runs carrying this tag (key and value).</summary>
    public KeyValuePair<string, string>? Tag { get; init; }

    public DateTimeOffset? CreatedAfter { get; init; }
    public DateTimeOffset? CreatedBefore { get; init; }

    /// <summary>Page size, 1–1000. Default 100.</summary>
    public int Limit { get; init; } = 100;

    /// <summary>The <see cref="RunPage.NextCursor"/> of the previous page.</summary>
    public string? Cursor { get; init; }
}

/// <summary>One page of runs and the cursor of the next page (null at the end).</summary>
public sealed record RunPage(IReadOnlyList<RunInfo> Runs, string? NextCursor);
