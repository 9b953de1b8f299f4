namespace Trellis.TestWorker;

/// <param name="IgnoreAbort">The step bodies sleep through an abort of the run (a lost lease, a shutdown), as code that
/// does not watch its token would: a test can then count on the body ending and its checkpoint being attempted.</param>
/// <param name="VictimHoldsInStep">On the worker named "victim", this step's body never ends: a test that kills the
/// victim there knows the step was in flight, however slowly the test's own polling saw it start.</param>
public sealed record StepsInput(int Steps, int StepDelayMs, bool IgnoreAbort = false, int VictimHoldsInStep = -1);

/// <summary>N sequential steps; each sleeps, then returns its index and the worker that ran it.</summary>
public sealed class SequentialSteps(BodyLog log) : Workflow<StepsInput, string[]>
{
    public override async Task<string[]> RunAsync(WorkflowContext context, StepsInput input)
    {
        var results = new string[input.Steps];
        for (var i = 0; i < input.Steps; i++)
        {
            var index = i;
            results[i] = await context.StepAsync($"step-{index}", ct => log.TraceAsync(context, $"step-{index}", null, async () =>
            {
                var holds = index == input.VictimHoldsInStep && log.OnVictim;
                await Task.Delay(holds ? Timeout.Infinite : input.StepDelayMs, input.IgnoreAbort ? CancellationToken.None : ct);
                return $"{index}@{log.WorkerId}";
            }));
        }

        return results;
    }
}

/// <param name="VictimHoldsFromItem">On the worker named "victim", the bodies of this item and every later one never
/// end: the victim cannot finish the loop before a test kills it.</param>
public sealed record ItemsInput(int Items, int ItemDelayMs, int MaxParallelism, int VictimHoldsFromItem = int.MaxValue);

/// <summary>One per-item step over N items; each item sleeps, then returns its square.</summary>
public sealed class PerItemSteps(BodyLog log) : Workflow<ItemsInput, long>
{
    public override async Task<long> RunAsync(WorkflowContext context, ItemsInput input)
    {
        var items = Enumerable.Range(0, input.Items).ToArray();
        var squares = await context.ForEachAsync("square", items, (item, index, ct) => log.TraceAsync(context, "square", index, async () =>
        {
            var holds = index >= input.VictimHoldsFromItem && log.OnVictim;
            await Task.Delay(holds ? Timeout.Infinite : input.ItemDelayMs, ct);
            return (long)item * item;
        }), input.MaxParallelism);
        return await context.StepAsync("sum", _ => log.TraceAsync(context, "sum", null, () => Task.FromResult(squares.Sum())));
    }
}

public sealed record HoldInput(int HoldMsOnVictim);

/// <summary>No steps: records that its body started, then holds for a while on the worker named "victim" only.</summary>
public sealed class StepFreeHold(BodyLog log) : Workflow<HoldInput, string>
{
    public override async Task<string> RunAsync(WorkflowContext context, HoldInput input)
    {
        await log.RecordAsync(context.RunId, "body", null, "start");
        if (log.OnVictim)
        {
            await Task.Delay(input.HoldMsOnVictim);
        }

        return $"done@{log.WorkerId}";
    }
}

/// <summary>
/// A run that kills every worker that takes it: on a worker whose id starts with "poison", its body records its start,
/// then SIGKILLs its own process. Elsewhere it returns at once.
/// </summary>
public sealed class PoisonPill(BodyLog log) : Workflow<int, string>
{
    public override async Task<string> RunAsync(WorkflowContext context, int input)
    {
        await log.RecordAsync(context.RunId, "body", null, "start");
        if (log.WorkerId.StartsWith("poison", StringComparison.Ordinal))
        {
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }

        return $"survived@{log.WorkerId}";
    }
}

/// <param name="Id">Makes each run's results its own.</param>
/// <param name="SleepMs">A durable sleep between "sum" and "scale", when positive (over a second, it leaves the worker).</param>
/// <param name="AwaitsEvent">After the sleep, a wait for the event "soak" keyed by the id, whose data (<see cref="SoakWorkflow.Bonus"/>) is added in.</param>
public sealed record SoakInput(int Id, int Items, int StepMs, int ItemMs, int SleepMs = 0, bool AwaitsEvent = false);

/// <summary>
/// Five steps, the second a per-item step over <see cref="SoakInput.Items"/> items: load, square (per item), sum,
/// (a sleep, a wait for an event,) scale, finish. Every body first records its start, with the time it began, in <c>body_log</c>.
/// </summary>
public sealed class SoakWorkflow(BodyLog log) : Workflow<SoakInput, string>
{
    /// <summary>The data of the event a run with <paramref name="id"/> waits for.</summary>
    public static long Bonus(int id) => id * 3L;

    public static string EventKey(int id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string Expected(SoakInput input)
    {
        var sum = Enumerable.Range(0, input.Items).Sum(i => (long)(i + input.Id) * (i + input.Id));
        return $"{input.Id}:{sum + (input.Id * 7) + (input.AwaitsEvent ? Bonus(input.Id) : 0)}";
    }

    public override async Task<string> RunAsync(WorkflowContext context, SoakInput input)
    {
        var load = await context.StepAsync("load", ct => Body(context, "load", null, input.StepMs, () => input.Id * 7L, ct));
        var squares = await context.ForEachAsync(
            "square",
            Enumerable.Range(0, input.Items).ToArray(),
            (item, index, ct) => Body(context, "square", index, input.ItemMs, () => (long)(item + input.Id) * (item + input.Id), ct),
            maxParallelism: 4);
        var sum = await context.StepAsync("sum", ct => Body(context, "sum", null, input.StepMs, squares.Sum, ct));
        if (input.SleepMs > 0)
        {
            await context.SleepAsync(TimeSpan.FromMilliseconds(input.SleepMs));
        }

        var bonus = input.AwaitsEvent ? (await context.WaitForEventAsync<long>("soak", EventKey(input.Id))).Data : 0;

        var scaled = await context.StepAsync("scale", ct => Body(context, "scale", null, input.StepMs, () => sum + load + bonus, ct));
        return await context.StepAsync("finish", ct => Body(context, "finish", null, input.StepMs, () => $"{input.Id}:{scaled}", ct));
    }

    private async Task<T> Body<T>(WorkflowContext context, string step, int? item, int delayMs, Func<T> result, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow; // before anything else: a pause from here on is a pause inside the body
        await log.RecordStartDurablyAsync(context.RunId, step, item, startedAt);
        await Task.Delay(delayMs, cancellationToken);
        return result();
    }
}

/// <param name="Children">How many children the parent starts, in one call.</param>
/// <param name="ChildMs">How long each child's step takes; on the worker named "victim" it never ends.</param>
public sealed record FanOutInput(int Children, int ChildMs);

/// <summary>
/// Starts <see cref="FanOutInput.Children"/> <see cref="SquareChild"/> runs, then holds in a step on the worker named
/// "victim" (a test kills it there, after the children were started), then awaits all their results and sums them.
/// </summary>
public sealed class FanOutParent(BodyLog log) : Workflow<FanOutInput, long>
{
    public override async Task<long> RunAsync(WorkflowContext context, FanOutInput input)
    {
        var children = await context.Child<SquareChild>().StartManyAsync(Enumerable.Range(0, input.Children).Select(i => new SquareInput(i, input.ChildMs)));
        await context.StepAsync("after start", ct => log.TraceAsync(context, "after start", null, async () =>
        {
            await Task.Delay(log.OnVictim ? Timeout.Infinite : 0, ct);
            return children.Count;
        }));
        var squares = await children.GetResultsAsync();
        return squares.Sum();
    }
}

public sealed record SquareInput(int Value, int DelayMs);

/// <summary>One step that waits <see cref="SquareInput.DelayMs"/> (forever on the worker named "victim") and returns the square.</summary>
public sealed class SquareChild(BodyLog log) : Workflow<SquareInput, long>
{
    public override async Task<long> RunAsync(WorkflowContext context, SquareInput input) =>
        await context.StepAsync("square", ct => log.TraceAsync(context, "square", null, async () =>
        {
            await Task.Delay(log.OnVictim ? Timeout.Infinite : input.DelayMs, ct);
            return (long)input.Value * input.Value;
        }));
}
