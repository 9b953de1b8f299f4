using System.Collections.Concurrent;
using System.Diagnostics;

namespace Trellis.Bench;

/// <summary>W1: a no-op job. No steps; the run itself is the job.</summary>
public sealed class NoOp : Workflow<NoOp.Payload, NoOp.Payload>
{
    private static int _handled;

    public static int Handled => Volatile.Read(ref _handled);

    public sealed record Payload(int I);

    public override Task<Payload> RunAsync(WorkflowContext context, Payload input)
    {
        Interlocked.Increment(ref _handled);
        return Task.FromResult(input);
    }
}

/// <summary>W2: three sequential steps, each returning a small object, as in the peers' threeStepWf.</summary>
public sealed class ThreeSteps : Workflow<int, ThreeSteps.Output>
{
    public sealed record StepResult(int Step, int I, int Prev);

    public sealed record Output(int I, int Last);

    public override async Task<Output> RunAsync(WorkflowContext context, int i)
    {
        var a = await context.StepAsync("step1", _ => Task.FromResult(new StepResult(1, i, 0)));
        var b = await context.StepAsync("step2", _ => Task.FromResult(new StepResult(2, i, a.Step)));
        var c = await context.StepAsync("step3", _ => Task.FromResult(new StepResult(3, i, b.Step)));
        return new Output(i, c.Step);
    }
}

/// <summary>W3: records when its body starts (pickup) and returns at once, as the peers' latWf.</summary>
public sealed class Latency : Workflow<int, int>
{
    public static readonly ConcurrentDictionary<int, long> Started = new();

    public override Task<int> RunAsync(WorkflowContext context, int i)
    {
        Started[i] = Stopwatch.GetTimestamp();
        return Task.FromResult(i);
    }
}

/// <summary>W4 (per-item-steps variant): one run, <c>width</c> per-item steps through ForEachAsync.</summary>
public sealed class FanOut : Workflow<int, int>
{
    private static long _itemsRun;

    /// <summary>The item bodies this process ran (the kill case's proof that no stored item ran again).</summary>
    public static long ItemsRun => Interlocked.Read(ref _itemsRun);

    public sealed record Child(int K);

    public override async Task<int> RunAsync(WorkflowContext context, int width)
    {
        // All at once up to 1,000 (W4's width), as the peers run theirs; wider fan-outs (the 100,000-item case) 1,000 at a time.
        var children = await context.ForEachAsync("child", Enumerable.Range(0, width).ToArray(), (k, _, _) =>
        {
            Interlocked.Increment(ref _itemsRun);
            return Task.FromResult(new Child(k));
        }, maxParallelism: Math.Min(width, 1000));
        return children.Length;
    }
}

/// <summary>W4 (children variant): one parent starts <c>width</c> no-op child runs in one call and awaits all their results.</summary>
public sealed class ChildFanOut : Workflow<int, int>
{
    public override async Task<int> RunAsync(WorkflowContext context, int width)
    {
        var children = await context.Child<NoOpChild>().StartManyAsync(Enumerable.Range(0, width));
        return (await children.GetResultsAsync()).Length;
    }
}

/// <summary>A child that returns its input.</summary>
public sealed class NoOpChild : Workflow<int, int>
{
    public override Task<int> RunAsync(WorkflowContext context, int input) => Task.FromResult(input);
}

/// <summary>Timers: a durable sleep, then a step; the step's start against the sleep's end is the wake-up's lateness.</summary>
public sealed class Napper : Workflow<int, int>
{
    public static readonly TimeSpan Nap = TimeSpan.FromSeconds(2);

    public override async Task<int> RunAsync(WorkflowContext context, int input)
    {
        await context.SleepAsync(Nap);
        return await context.StepAsync("woke", _ => Task.FromResult(input));
    }
}

/// <summary>
/// Events and messages: waits for one (an event keyed by its sample, or a message to the run), then runs one step whose
/// body records when it starts; the publish or send call's start against that is the wake-up's round trip.
/// </summary>
public sealed class Waiter : Workflow<Waiter.Input, int>
{
    public const string EventName = "go";

    public const string Topic = "go";

    public static readonly ConcurrentDictionary<int, long> Woke = new();

    public sealed record Input(int I, bool Message);

    public static string Key(int i) => $"sample-{i}";

    public override async Task<int> RunAsync(WorkflowContext context, Input input)
    {
        var received = input.Message
            ? await context.ReceiveAsync<int>(Topic)
            : await context.WaitForEventAsync<int>(EventName, Key(input.I));
        if (!received.Received || received.Data != input.I)
        {
            throw new InvalidOperationException($"sample {input.I} received {received}");
        }

        return await context.StepAsync("woke", _ =>
        {
            Woke[input.I] = Stopwatch.GetTimestamp();
            return Task.FromResult(input.I);
        });
    }
}
