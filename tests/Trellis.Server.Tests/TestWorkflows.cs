namespace Trellis.Server.Tests;

/// <summary>The workflows the API tests start by name.</summary>
public static class TestWorkflows
{
    /// <summary>The inputs whose second step is broken: a test "deploys the fix" by taking its number out.</summary>
    public static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> Broken = new();

    public sealed record StepsInput(int N, bool Fail);

    /// <summary>Three steps; the second fails for good when the input asks and its number is <see cref="Broken"/>.</summary>
    public sealed class Steps : Workflow<StepsInput, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, StepsInput input)
        {
            var a = await context.StepAsync("first", _ => Task.FromResult(input.N));
            var b = await context.StepAsync("second", _ =>
                input.Fail && Broken.ContainsKey(input.N) ? throw new NonRetryableException("second is broken") : Task.FromResult(a * 2));
            return await context.StepAsync("third", _ => Task.FromResult(b + 1));
        }
    }

    /// <summary>One per-item step over <c>count</c> pages; the last page (started last) fails for good while <see cref="Broken"/> holds <c>-count</c>.</summary>
    public sealed class Pages : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int count)
        {
            var texts = await context.ForEachAsync("page", Enumerable.Range(1, count).ToArray(), (page, _, _) =>
                page == count && Broken.ContainsKey(-count) ? throw new NonRetryableException($"page {page} is torn") : Task.FromResult($"text of page {page}"));
            return texts.Length;
        }
    }

    /// <summary>Waits for the event ("go", its input) and returns its data.</summary>
    public sealed class WaitForGo : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string key)
        {
            var go = await context.WaitForEventAsync<string>("go", key);
            return go.Data ?? "";
        }
    }

    /// <summary>Starts two <see cref="Steps"/> children and adds their results.</summary>
    public sealed class Parent : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int n)
        {
            var children = await context.Child<Steps>().StartManyAsync([new StepsInput(n, false), new StepsInput(n + 1, false)]);
            return (await children.GetResultsAsync()).Sum();
        }
    }
}
