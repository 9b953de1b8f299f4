using System.Collections.Concurrent;

namespace Trellis.Dashboard.Tests;

/// <summary>The workflows the dashboard tests run.</summary>
public static class Workflows
{
    /// <summary>Inputs whose second step is broken; a test "deploys the fix" by taking its number out.</summary>
    public static readonly ConcurrentDictionary<int, bool> Broken = new();

    /// <summary>Three steps; the second fails for good while its input is <see cref="Broken"/>.</summary>
    public sealed class Steps : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int n)
        {
            var page = await context.StepAsync("load", _ => Task.FromResult(new { Chapter = n, Pages = 3 }));
            var text = await context.StepAsync("ocr", _ =>
                Broken.ContainsKey(n) ? throw new NonRetryableException($"OCR engine crashed on chapter {n}") : Task.FromResult($"text of chapter {page.Chapter}"));
            return await context.StepAsync("encode", _ => Task.FromResult($"video of {text}"));
        }
    }

    /// <summary>One per-item step over <c>count</c> pages, each storing its page's text.</summary>
    public sealed class Pages : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int count)
        {
            var texts = await context.ForEachAsync("ocr page", Enumerable.Range(1, count).ToArray(), (page, _, _) => Task.FromResult($"page {page}: some text"));
            return texts.Length;
        }
    }

    /// <summary>One step that stores a long text (<c>size</c> characters).</summary>
    public sealed class Large : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int size) =>
            (await context.StepAsync("transcribe", _ => Task.FromResult(string.Join('\n', Enumerable.Range(1, size / 20).Select(i => $"line {i,6} of text.."))))).Length;
    }

    /// <summary>Scans five pages (one per-item step), then waits for the event ("go", its input).</summary>
    public sealed class ScanThenWait : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string key)
        {
            await context.ForEachAsync("scan", Enumerable.Range(1, 5).ToArray(), (page, _, _) => Task.FromResult($"page {page} scanned"));
            return (await context.WaitForEventAsync<string>("go", key, TimeSpan.FromHours(1))).Data ?? "";
        }
    }

    /// <summary>Waits for the event ("go", its input) and returns its data.</summary>
    public sealed class WaitForGo : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string key) =>
            (await context.WaitForEventAsync<string>("go", key, TimeSpan.FromHours(1))).Data ?? "";
    }
}
