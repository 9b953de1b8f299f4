using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Trellis.Client;
using Trellis.Diagnostics;
using Trellis.Storage;

namespace Trellis.Execution;

/// <summary>
/// Child runs (<see cref="WorkflowContext.StartChildAsync{TWorkflow}"/>). A start at a step position creates the
/// children, with ids made from the parent's id and that position, so that a replay of the parent (after a crash, on
/// another worker) creates none twice, and then stores a row naming them. Awaiting them takes no position: a child's
/// end is its own row in <c>runs</c>. The parent, while some it awaits are unfinished, waits in the store without a
/// worker, and the last of them to finish makes it ready again.
/// </summary>
internal static class ChildRuns
{
    // A fixed shape, whatever the workflows' serializer options: {"workflow": "…", "runIds": ["…"]}.
    private static readonly JsonSerializerOptions RecordJson = new(JsonSerializerDefaults.Web);

    /// <summary>What a start's row holds: the children's workflow and their ids, in input order.</summary>
    private sealed record StartRecord(string Workflow, IReadOnlyList<string> RunIds);

    /// <summary>The name of a start's row in <c>steps</c>.</summary>
    public static string StepName(string workflowName, bool many) => many ? $"children {workflowName}" : $"child {workflowName}";

    /// <summary>
    /// The id of the child started at <paramref name="sequence"/> (and <paramref name="index"/> of a start of many): the
    /// parent's id with the position appended, or, for a parent id too long for that, a digest of it.
    /// </summary>
    public static string ChildId(string parentRunId, int sequence, int? index)
    {
        var suffix = index is { } i ? $":{sequence}:{i}" : $":{sequence}";
        var prefix = parentRunId.Length + suffix.Length <= Names.MaxRunIdLength
            ? parentRunId
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(parentRunId)));
        return prefix + suffix;
    }

    /// <summary>Starts the children (or finds them started by an earlier execution); returns their ids in input order.</summary>
    public static async Task<IReadOnlyList<string>> StartAsync(
        RunExecution run, int sequence, StepInfo? stored, WorkflowDefinition definition, IReadOnlyList<string> inputsJson, ChildOptions options, bool many)
    {
        var name = StepName(definition.Name, many);
        if (stored is { Status: StepStatus.Completed })
        {
            return JsonSerializer.Deserialize<StartRecord>(stored.ResultJson ?? "null", RecordJson)?.RunIds
                ?? throw new NonRetryableException($"The row of '{name}' at position {sequence} names no child runs.");
        }

        var services = run.Services;
        var claim = run.Claim;
        var children = new NewRun[inputsJson.Count];
        // Children continue the parent's trace under the parent run's span (the workflow's code runs inside it); without
        // that span (no listener here), under the span that started the parent.
        var trace = RunTraceContext.Current is { TraceParent: not null } current ? current : new RunTraceContext(claim.TraceParent, claim.TraceState);
        for (var i = 0; i < children.Length; i++)
        {
            children[i] = new NewRun(
                ChildId(run.RunId, sequence, many ? i : null),
                definition.Name,
                definition.Version,
                options.Queue ?? services.Options.DefaultQueue,
                options.Priority,
                inputsJson[i],
                options.CorrelationId ?? claim.CorrelationId,
                options.Tags ?? RunInfo.EmptyTags,
                options.MaxAttempts ?? services.Options.RunRetry.MaxAttempts,
                ScheduledAt: null,
                MaxWorkerLosses: options.MaxWorkerLosses ?? definition.MaxWorkerLosses ?? services.Options.MaxWorkerLosses,
                ParentRunId: run.RunId,
                CancelWithParent: options.WhenParentCancelled == ParentCancelPolicy.CancelChild,
                Timeout: options.Timeout,
                TraceParent: trace.TraceParent,
                TraceState: trace.TraceState);
        }

        await run.EnsureHeldAsync().ConfigureAwait(false);
        var startedAt = services.Time.GetUtcNow();
        var ids = children.Select(c => c.Id).ToArray();
        if (children.Length > 0)
        {
            // Created as they are, or left as they are when an earlier execution created them already.
            var created = await StoreCalls.RetryAsync(run, token => services.Runs.CreateRunsAsync(children, token)).ConfigureAwait(false);
            RunMetrics.RunsStarted(definition.Name, created.Count(c => c.Created));
            if (created.FirstOrDefault(c => !c.Created && c.WorkflowName is { } existing && existing != definition.Name) is { } clash)
            {
                throw new NonRetryableException(
                    $"Run '{clash.Id}' exists as a run of '{clash.WorkflowName}', not of '{definition.Name}': the parent's code no longer starts the same child here.");
            }
        }

        var row = new StepWrite
        {
            RunId = run.RunId,
            Epoch = run.Epoch,
            Sequence = sequence,
            Name = name,
            Status = StepStatus.Completed,
            ResultJson = JsonSerializer.Serialize(new StartRecord(definition.Name, ids), RecordJson),
            Attempts = 1,
            StartedAt = startedAt,
            CompletedAt = services.Time.GetUtcNow(),
        };
        await run.EnsureAppliedAsync(run.WriteAsync(row)).ConfigureAwait(false);
        return ids;
    }

    /// <summary>
    /// The ends of the children <paramref name="ids"/>, in order, once all have finished. Until then the run leaves the
    /// worker (the returned task never completes: the executor abandons the workflow's code) and waits in the store.
    /// </summary>
    public static async Task<IReadOnlyList<ChildOutcome>> WaitAsync(RunExecution run, IReadOnlyList<string> ids)
    {
        var known = run.ChildOutcomes;
        if (known.TryGetAll(ids) is { } outcomes)
        {
            return outcomes;
        }

        // One wait at a time per run: handles awaited together (Task.WhenAll) must not each suspend the run.
        await known.Gate.WaitAsync(run.StopToken).ConfigureAwait(false);
        try
        {
            if (known.TryGetAll(ids) is { } found)
            {
                return found;
            }

            if (!run.Suspended.IsCompleted)
            {
                await run.HoldUnderLeaseAsync().ConfigureAwait(false);
                var wait = new ChildrenWait(run.RunId, run.Epoch, ids);
                var outcome = await StoreCalls.RetryAsync(run, token => run.Services.Children.WaitForChildrenAsync(wait, token)).ConfigureAwait(false);
                switch (outcome.State)
                {
                    case ChildrenWaitState.Finished:
                        known.Add(outcome.Finished);
                        return known.TryGetAll(ids) ?? throw new NonRetryableException(
                            $"Child run '{ids.First(id => !known.Contains(id))}' of run '{run.RunId}' no longer exists.");
                    case ChildrenWaitState.Waiting:
                        run.Suspend(null);
                        break;
                    default:
                        run.Abort(AbortReason.LeaseLost);
                        throw new LeaseLostException(run.RunId, run.Epoch);
                }
            }
        }
        finally
        {
            known.Gate.Release();
        }

        return await new TaskCompletionSource<IReadOnlyList<ChildOutcome>>().Task.ConfigureAwait(false); // never
    }

    /// <summary>A finished child's output as <typeparamref name="T"/>, or its failure as an exception.</summary>
    public static T Result<T>(RunExecution run, ChildOutcome child)
    {
        if (child.Status != RunStatus.Completed)
        {
            throw new ChildRunFailedException(child.RunId, child.WorkflowName, child.Status == RunStatus.Cancelled, child.Error);
        }

        try
        {
            return run.Services.Serializer.Deserialize<T>(child.OutputJson);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw new NonRetryableException($"The output of child run '{child.RunId}' does not deserialize into {typeof(T).Name}: {ex.Message}", ex);
        }
    }
}

/// <summary>The ends of a run's finished children, as this execution has learnt them (they never change once finished).</summary>
internal sealed class KnownChildOutcomes
{
    private readonly Dictionary<string, ChildOutcome> _finished = new(StringComparer.Ordinal);

    public SemaphoreSlim Gate { get; } = new(1, 1);

    public bool Contains(string id)
    {
        lock (_finished)
        {
            return _finished.ContainsKey(id);
        }
    }

    public void Add(IEnumerable<ChildOutcome> outcomes)
    {
        lock (_finished)
        {
            foreach (var outcome in outcomes)
            {
                _finished[outcome.RunId] = outcome;
            }
        }
    }

    /// <summary>The ends of all of <paramref name="ids"/> in order, or null if one is not known to have finished.</summary>
    public IReadOnlyList<ChildOutcome>? TryGetAll(IReadOnlyList<string> ids)
    {
        lock (_finished)
        {
            var outcomes = new ChildOutcome[ids.Count];
            for (var i = 0; i < outcomes.Length; i++)
            {
                if (!_finished.TryGetValue(ids[i], out var outcome))
                {
                    return null;
                }

                outcomes[i] = outcome;
            }

            return outcomes;
        }
    }
}
