using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Trellis.Dashboard.Tests;

/// <summary>
/// What a new user does first: runs the demo, then <c>trellis serve</c>, opens the URL it prints and looks at the manga
/// run's pages and their OCR text, with no token (none configured: open on this machine) and no docs.
/// </summary>
public sealed partial class FirstLookTests(DashboardServer server) : IClassFixture<DashboardServer>
{
    [Fact]
    public async Task AfterTheDemo_TheUrlThatServePrints_ShowsTheMangaRunsOcrTextPerPage()
    {
        var runId = $"manga-{Guid.NewGuid():N}"[..20];
        var demo = await CliProcess.RunAsync(server.Database, "demo", "--pages", "4", "--run-id", runId);
        Assert.True(demo.ExitCode == 0, demo.Output + demo.Error);
        var firstPageText = await server.Database.ScalarAsync<string>(
            "SELECT result->>'text' FROM {schema}.steps WHERE run_id = $1 AND name = 'OCR Analyzer' AND item_index = 0", runId);

        using var serve = Process.Start(CliProcess.StartInfo(server.Database, "serve", "--urls", "http://127.0.0.1:0"))!;
        try
        {
            var line = await serve.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) ?? "";
            var url = PrintedUrl().Match(line).Value;
            Assert.False(string.IsNullOrEmpty(url), $"no URL in: {line}");
            Assert.Contains("dashboard", line, StringComparison.Ordinal);

            var page = await server.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
            await page.GotoAsync(url);
            await page.GetByRole(AriaRole.Link, new() { Name = runId }).ClickAsync();
            await page.GetByRole(AriaRole.Heading, new() { Name = $"Run {runId}" }).WaitForAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "1 OCR Analyzer (show 4 items)" }).ClickAsync();

            var items = page.GetByRole(AriaRole.Table, new() { Name = "Items of OCR Analyzer" });
            await Assertions.Expect(items.Locator("tbody tr")).ToHaveCountAsync(4);
            await Assertions.Expect(items.Locator("tbody tr").First).ToContainTextAsync(firstPageText);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardServer.ScreenshotFolder, "manga-run.png"), FullPage = true });
        }
        finally
        {
            serve.Kill(entireProcessTree: true);
            await serve.WaitForExitAsync();
        }
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/")]
    private static partial Regex PrintedUrl();
}
