using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Trellis.Dashboard.Tests;

/// <summary>The dashboard in a real browser (headless Chromium): what a user sees and does.</summary>
public sealed class DashboardTests(DashboardServer server) : IClassFixture<DashboardServer>
{
    [Fact]
    public async Task AnAdmin_LogsIn_OpensAFailedRun_SeesItsStepDataAndError_RetriesIt_AndSeesItComplete()
    {
        var n = Random.Shared.Next(1_000, 1_000_000);
        Workflows.Broken[n] = true;
        var run = await server.Client.StartAsync<Workflows.Steps>(n);
        await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));

        var page = await server.LogInAsync(DashboardServer.AdminToken);
        await page.GetByRole(AriaRole.Link, new() { Name = run.RunId }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = $"Run {run.RunId}" }).WaitForAsync();
        await Expect(page.Locator(".status.failed").First).ToBeVisibleAsync();
        await Expect(page.GetByText($"OCR engine crashed on chapter {n}").First).ToBeVisibleAsync();

        // The completed first step's stored data, then the failed step's error.
        await page.GetByRole(AriaRole.Button, new() { Name = "0 load: completed" }).ClickAsync();
        await Expect(page.Locator("#step-data")).ToContainTextAsync("\"chapter\": " + n);
        await page.GetByRole(AriaRole.Button, new() { Name = "1 ocr: failed" }).ClickAsync();
        await Expect(page.Locator("#step-data")).ToContainTextAsync($"OCR engine crashed on chapter {n}");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardServer.ScreenshotFolder, "run-page.png"), FullPage = true });

        Workflows.Broken.TryRemove(n, out _);
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Expect(page.Locator(".status.completed").First).ToBeVisibleAsync(new() { Timeout = 20_000 });
        Assert.Equal($"video of text of chapter {n}", await run.GetResultAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task AReader_SeesNoActionButtons_AndTheApiRefusesAnAction()
    {
        var run = await server.Client.StartAsync<Workflows.Steps>(1);
        await run.GetResultAsync(TimeSpan.FromSeconds(30));
        var page = await server.LogInAsync(DashboardServer.ReadToken);
        await page.GotoAsync($"{server.BaseUrl}/#/runs/{Uri.EscapeDataString(run.RunId)}");
        await page.GetByRole(AriaRole.Heading, new() { Name = $"Run {run.RunId}" }).WaitForAsync();
        foreach (var action in new[] { "Cancel", "Retry", "Resume" })
        {
            Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = action }).CountAsync());
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "0 load: completed" }).ClickAsync();
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Fork from this step" }).CountAsync());

        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", DashboardServer.ReadToken);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync($"/api/runs/{run.RunId}/retry", null)).StatusCode);
    }

    [Fact]
    public async Task AThousandItemTimeline_RendersInUnderTwoSeconds()
    {
        var run = await server.Client.StartAsync<Workflows.Pages>(1000);
        Assert.Equal(1000, await run.GetResultAsync(TimeSpan.FromSeconds(60)));
        var page = await server.LogInAsync(DashboardServer.ReadToken);
        await page.GotoAsync($"{server.BaseUrl}/#/runs/{Uri.EscapeDataString(run.RunId)}");
        var toggle = page.GetByRole(AriaRole.Button, new() { Name = "0 ocr page (show 1000 items)" });
        await toggle.WaitForAsync();

        var clock = Stopwatch.StartNew();
        await toggle.ClickAsync();
        await Expect(page.Locator("svg.gantt rect.bar")).ToHaveCountAsync(1001, new() { Timeout = 10_000 });
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the 1,000 items took {clock.Elapsed.TotalMilliseconds:0} ms to render");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Items of ocr page" }).Locator("tbody tr")).ToHaveCountAsync(1000);

        await page.GetByRole(AriaRole.Button, new() { Name = "item 999: completed" }).ClickAsync();
        await Expect(page.Locator("#step-data")).ToContainTextAsync("page 1000: some text");
    }

    [Fact]
    public async Task ALiveRunsPage_KeepsTheItemsAndTheItemTheUserOpened_AcrossItsRefresh()
    {
        var key = Guid.NewGuid().ToString("N")[..8];
        var run = await server.Client.StartAsync<Workflows.ScanThenWait>(key);
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");

        // The page's timers run when the test moves the page's clock: its live refresh happens when the test says.
        var page = await server.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await page.Clock.InstallAsync();
        await page.GotoAsync($"{server.BaseUrl}/#/runs/{Uri.EscapeDataString(run.RunId)}");
        await page.GetByLabel("API token").FillAsync(DashboardServer.ReadToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "0 scan (show 5 items)" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "item 2", Exact = true }).ClickAsync();
        await Expect(page.Locator("#step-data")).ToContainTextAsync("page 3 scanned");

        await server.Client.PublishEventAsync("go", key, "done");
        Assert.Equal("done", await run.GetResultAsync(TimeSpan.FromSeconds(20)));
        await page.Clock.RunForAsync(3_500);
        await Expect(page.Locator(".status.completed").First).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "0 scan (hide 5 items)" })).ToBeVisibleAsync();
        await Expect(page.Locator("#step-data")).ToContainTextAsync("page 3 scanned");
    }

    [Fact]
    public async Task ALargeStepResult_IsFoldedWithItsSize_UntilOpened()
    {
        var run = await server.Client.StartAsync<Workflows.Large>(20_000);
        await run.GetResultAsync(TimeSpan.FromSeconds(30));
        var page = await server.LogInAsync(DashboardServer.ReadToken);
        await page.GotoAsync($"{server.BaseUrl}/#/runs/{Uri.EscapeDataString(run.RunId)}");
        await page.GetByRole(AriaRole.Button, new() { Name = "0 transcribe: completed" }).ClickAsync();

        var folded = page.Locator("#step-data details.large");
        await Expect(folded.Locator("summary")).ToContainTextAsync("KB");
        await Expect(folded.Locator("pre")).ToBeHiddenAsync();
        await folded.Locator("summary").ClickAsync();
        await Expect(folded.Locator("pre")).ToContainTextAsync("line   1000 of text");
    }

    [Fact]
    public async Task TheQueuesPage_ShowsEachQueuesDepthWorkersAndThroughput_AndOpensItsRuns()
    {
        var done = await server.Client.StartAsync<Workflows.Steps>(5);
        await done.GetResultAsync(TimeSpan.FromSeconds(30));
        var queue = $"overflow-{Guid.NewGuid():N}"[..16]; // no worker serves it: its runs stay ready
        var parked = new List<RunHandle>();
        for (var i = 0; i < 3; i++)
        {
            parked.Add(await server.Client.StartAsync<Workflows.Steps>(100 + i, new StartOptions { Queue = queue }));
        }

        var page = await server.LogInAsync(DashboardServer.ReadToken);
        await page.GetByRole(AriaRole.Link, new() { Name = "Queues" }).ClickAsync();
        var queues = page.GetByRole(AriaRole.Table, new() { Name = "Queues" });
        var row = queues.GetByRole(AriaRole.Row).Filter(new() { HasText = queue });
        await Expect(row).ToContainTextAsync("none"); // ready runs and no worker: shown in the failure colour
        Assert.Equal("3", await row.GetByRole(AriaRole.Cell).Nth(1).InnerTextAsync());
        var served = queues.GetByRole(AriaRole.Row).Filter(new() { HasText = "dashboard" });
        Assert.Matches(@"^1 \(\d+\)$", await served.GetByRole(AriaRole.Cell).Nth(9).InnerTextAsync());
        Assert.NotEqual("0", await served.GetByRole(AriaRole.Cell).Nth(6).InnerTextAsync()); // completed in the last hour
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Runs finished per minute and queue over the last hour" })).ToBeVisibleAsync();
        Assert.True(await page.Locator("#queue-throughput rect").CountAsync() >= 1);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardServer.ScreenshotFolder, "queues.png"), FullPage = true });
        var results = await page.RunAxe();
        Assert.True(results.Violations.Length == 0, string.Join("\n", results.Violations.Select(v => $"{v.Id}: {v.Help} ({v.Nodes.Length} node(s))")));

        // The ready count opens the runs list filtered by the queue and status.
        await page.GetByRole(AriaRole.Link, new() { Name = $"3 ready runs on {queue}" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Runs" }).Locator("tbody tr")).ToHaveCountAsync(3);
        foreach (var run in parked)
        {
            await Expect(page.GetByRole(AriaRole.Link, new() { Name = run.RunId })).ToBeVisibleAsync();
        }

        Assert.Equal(queue, await page.GetByLabel("Queue").InputValueAsync());
    }

    [Fact]
    public async Task TheRunsList_IsUsableByKeyboard_AndHasNoContrastFailures()
    {
        // A few runs of each kind first, so that the list (and its screenshot) shows what a user's would.
        var earlier = new List<RunHandle>();
        for (var i = 0; i < 4; i++)
        {
            earlier.Add(await server.Client.StartAsync<Workflows.Steps>(20 + i));
        }

        Workflows.Broken[30] = true;
        earlier.Add(await server.Client.StartAsync<Workflows.Steps>(30));
        earlier.Add(await server.Client.StartAsync<Workflows.Pages>(40));
        _ = await server.Client.StartAsync<Workflows.WaitForGo>($"list-{Guid.NewGuid():N}");
        foreach (var handle in earlier.Where((_, i) => i != 4))
        {
            await handle.GetResultAsync<object>(TimeSpan.FromSeconds(30));
        }

        await Assert.ThrowsAsync<RunFailedException>(() => earlier[4].GetResultAsync<object>(TimeSpan.FromSeconds(30)));
        Workflows.Broken.TryRemove(30, out _);
        var run = await server.Client.StartAsync<Workflows.Steps>(2);
        await run.GetResultAsync(TimeSpan.FromSeconds(30));
        var page = await server.LogInAsync(DashboardServer.ReadToken);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = run.RunId })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardServer.ScreenshotFolder, "runs-list.png"), FullPage = true });

        var results = await page.RunAxe();
        Assert.True(results.Violations.Length == 0, string.Join("\n", results.Violations.Select(v => $"{v.Id}: {v.Help} ({v.Nodes.Length} node(s))")));

        // A status's count lists the runs in that status.
        await page.GetByRole(AriaRole.Link, new() { NameRegex = new System.Text.RegularExpressions.Regex(@"^failed \d+$") }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = earlier[4].RunId })).ToBeVisibleAsync();
        Assert.All(await page.Locator("table[aria-label=Runs] tbody tr .status").AllInnerTextsAsync(), status => Assert.Equal("failed", status));
        await page.GoBackAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = run.RunId })).ToBeVisibleAsync();

        // From the last control above the list, Tab reaches the newest run's link; Enter opens it.
        await page.GetByRole(AriaRole.Button, new() { Name = "Pause live refresh" }).FocusAsync();
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal(("A", run.RunId), (await page.EvaluateAsync<string>("document.activeElement.tagName"), await page.EvaluateAsync<string>("document.activeElement.textContent")));
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("h1", new() { HasTextString = "Run " }).WaitForAsync();
        var runPage = await page.RunAxe();
        Assert.True(runPage.Violations.Length == 0, string.Join("\n", runPage.Violations.Select(v => $"{v.Id}: {v.Help} ({v.Nodes.Length} node(s))")));
    }

    [Fact]
    public async Task TheOverview_ChartsTheRunsPerMinuteByOutcome_AndListsStepDurations()
    {
        var done = await server.Client.StartAsync<Workflows.Steps>(3);
        await done.GetResultAsync(TimeSpan.FromSeconds(30));
        Workflows.Broken[4] = true;
        var failed = await server.Client.StartAsync<Workflows.Steps>(4);
        await Assert.ThrowsAsync<RunFailedException>(() => failed.GetResultAsync(TimeSpan.FromSeconds(30)));
        Workflows.Broken.TryRemove(4, out _);

        var page = await server.LogInAsync(DashboardServer.ReadToken);
        await page.GetByRole(AriaRole.Link, new() { Name = "Overview" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Overview" }).WaitForAsync();
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Runs finished per minute over the last 1h" })).ToBeVisibleAsync();
        Assert.True(await page.Locator("svg rect").CountAsync() >= 2); // a completed and a failed segment at least
        await Expect(page.Locator("table").Last).ToContainTextAsync("encode");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardServer.ScreenshotFolder, "overview.png"), FullPage = true });
        var results = await page.RunAxe();
        Assert.True(results.Violations.Length == 0, string.Join("\n", results.Violations.Select(v => $"{v.Id}: {v.Help} ({v.Nodes.Length} node(s))")));
    }

    [Fact]
    public async Task AWaitingRun_SaysWhatItWaitsForAndUntilWhen_AndAnAdminPublishesItsEventFromThePage()
    {
        var key = Guid.NewGuid().ToString("N")[..8];
        var run = await server.Client.StartAsync<Workflows.WaitForGo>(key);
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");

        var page = await server.LogInAsync(DashboardServer.AdminToken);
        await page.GotoAsync($"{server.BaseUrl}/#/runs/{Uri.EscapeDataString(run.RunId)}");
        await Expect(page.Locator("#waits")).ToContainTextAsync($"Waits for event go / {key} until");
        await page.GetByLabel("Event data (JSON)").FillAsync("\"from the dashboard\"");
        await page.GetByRole(AriaRole.Button, new() { Name = $"Publish go / {key}" }).ClickAsync();
        Assert.Equal("from the dashboard", await run.GetResultAsync(TimeSpan.FromSeconds(20)));
        await Expect(page.Locator(".status.completed").First).ToBeVisibleAsync(new() { Timeout = 10_000 });
    }

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
}
