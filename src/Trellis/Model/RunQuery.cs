namespace Trellis;

/// <summary>Filters and paging for listing runs. Newest first.</summary>
public sealed class RunQuery
{
    /// <summary>Only runs with this status.</summary>
    public RunStatus? Status { get; init; }

    /// <summary>Only runs of this workflow.</summary>
    public string? WorkflowName { get; init; }

    /// <summary>Only runs on this queue.</summary>
    public string? Queue { get; init; }

    /// <summary>Only runs with this correlation id.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>Only runs carrying this tag (key and value).</summary>
    public KeyValuePair<string, string>? Tag { get; init; }

    /// <summary>Only runs created at or after this time.</summary>
    public DateTimeOffset? CreatedAfter { get; init; }

    /// <summary>Only runs created before this time.</summary>
    public DateTimeOffset? CreatedBefore { get; init; }

    /// <summary>Page size, 1–1000. Default 100.</summary>
    public int Limit { get; init; } = 100;

    /// <summary>The <see cref="RunPage.NextCursor"/> of the previous page.</summary>
    public string? Cursor { get; init; }
}

/// <summary>One page of runs and the cursor of the next page (null at the end).</summary>
public sealed record RunPage(IReadOnlyList<RunInfo> Runs, string? NextCursor);
