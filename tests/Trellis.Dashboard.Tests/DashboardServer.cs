using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Trellis.Server;

namespace Trellis.Dashboard.Tests;

/// <summary>
/// The API and the dashboard on a real port (Kestrel, 127.0.0.1) over the class's schema, with a worker, and a headless
/// Chromium (Debian's, launched by Playwright) to look at it.
/// </summary>
public sealed class DashboardServer : IAsyncLifetime
{
    public const string ReadToken = "read-token-0123456789abcdef";
    public const string AdminToken = "admin-token-0123456789abcdef";

    private WebApplication? _app;
    private IPlaywright? _playwright;

    public PostgresFixture Database { get; } = new();

    public string BaseUrl { get; private set; } = "";

    public IBrowser Browser { get; private set; } = null!;

    public TrellisClient Client => _app!.Services.GetRequiredService<TrellisClient>();

    /// <summary>Where the tests save their screenshots (artifacts/screenshots at the repository's root).</summary>
    public static string ScreenshotFolder
    {
        get
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Trellis.slnx")))
            {
                root = root.Parent;
            }

            return Directory.CreateDirectory(Path.Combine(root?.FullName ?? Path.GetTempPath(), "artifacts", "screenshots")).FullName;
        }
    }

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddTrellis(trellis => trellis
            .UseTestDatabase(Database)
            .Configure(o => o.DefaultQueue = "dashboard")
            .AddWorkflow<Workflows.Steps>()
            .AddWorkflow<Workflows.Pages>()
            .AddWorkflow<Workflows.Large>()
            .AddWorkflow<Workflows.ScanThenWait>()
            .AddWorkflow<Workflows.WaitForGo>());
        builder.Services.AddTrellisApi(api =>
        {
            api.Tokens.Add(new ApiToken { Token = ReadToken, Scope = ApiScope.Read, Name = "reader" });
            api.Tokens.Add(new ApiToken { Token = AdminToken, Scope = ApiScope.Admin, Name = "admin" });
        });
        _app = builder.Build();
        _app.MapTrellisApi();
        _app.MapTrellisDashboard();
        await _app.StartAsync();
        await ((IHost)_app).WaitUntilMigratedAsync();
        BaseUrl = _app.Urls.First();

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_app is not null)
        {
            using var stop = new CancellationTokenSource(TestHosts.StopTimeout);
            await _app.StopAsync(stop.Token);
            await _app.DisposeAsync();
        }

        await Database.DisposeAsync();
    }

    /// <summary>A new browser page, logged in with <paramref name="token"/>, on the runs list.</summary>
    public async Task<IPage> LogInAsync(string token)
    {
        var page = await Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await page.GotoAsync(BaseUrl + "/");
        await page.GetByLabel("API token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Runs" }).WaitForAsync();
        return page;
    }
}
