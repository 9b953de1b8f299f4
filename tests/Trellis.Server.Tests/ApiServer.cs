using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Trellis.Server;

namespace Trellis.Server.Tests;

/// <summary>
/// The API in an in-memory server (ASP.NET Core's TestServer) over the class's schema, with a worker that runs the test
/// workflows, and one read and one admin token.
/// </summary>
public sealed class ApiServer : IAsyncLifetime
{
    public const string ReadToken = "read-token-0123456789abcdef";
    public const string AdminToken = "admin-token-0123456789abcdef";

    private static readonly string[] WritableTables = ["runs", "steps", "history", "events", "event_waits", "run_values", "run_streams"];
    private readonly Lazy<Task<string>> _seedRun;
    private WebApplication? _app;

    public ApiServer() => _seedRun = new(CreateSeedRunAsync);

    public PostgresFixture Database { get; } = new();

    public IServiceProvider Services => _app!.Services;

    public TrellisClient Client => Services.GetRequiredService<TrellisClient>();

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddTrellis(trellis => trellis
            .UseTestDatabase(Database)
            .Configure(o => o.DefaultQueue = "api")
            .AddWorkflow<TestWorkflows.Steps>()
            .AddWorkflow<TestWorkflows.Pages>()
            .AddWorkflow<TestWorkflows.WaitForGo>()
            .AddWorkflow<TestWorkflows.Parent>());
        builder.Services.AddTrellisApi(api =>
        {
            api.Tokens.Add(new ApiToken { Token = ReadToken, Scope = ApiScope.Read, Name = "reader" });
            api.Tokens.Add(new ApiToken { Token = AdminToken, Scope = ApiScope.Admin, Name = "admin" });
            api.MaxRequestBytes = 64 * 1024;
        });
        _app = builder.Build();
        _app.MapTrellisApi();
        _app.MapTrellisDashboard();
        await _app.StartAsync();
        await ((IHost)_app).WaitUntilMigratedAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            using var stop = new CancellationTokenSource(TestHosts.StopTimeout);
            await _app.StopAsync(stop.Token);
            await _app.DisposeAsync();
        }

        await Database.DisposeAsync();
    }

    /// <summary>A completed run of <see cref="TestWorkflows.Steps"/> the tests of the class share (made by the first that asks).</summary>
    public Task<string> SeedRunAsync() => _seedRun.Value;

    /// <summary>Rows in every table a request could write to, once no run of the class is live (so no worker writes meanwhile).</summary>
    public async Task<long[]> RowCountsAsync()
    {
        await Eventually.HoldsAsync(
            async () => await Database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs WHERE status IN ('pending', 'running')") == 0,
            "no run of the class is pending or running");
        return await CountRowsAsync();
    }

    private async Task<string> CreateSeedRunAsync()
    {
        var run = await Client.StartAsync<TestWorkflows.Steps>(new TestWorkflows.StepsInput(1, false));
        await run.GetResultAsync(TimeSpan.FromSeconds(30));
        return run.RunId;
    }

    private Task<long[]> CountRowsAsync() =>
        Task.WhenAll(WritableTables.Select(table => Database.ScalarAsync<long>($"SELECT count(*) FROM {{schema}}.{table}")));

    /// <summary>An HTTP client of the server, sending <paramref name="token"/> as its bearer token (none when null).</summary>
    public HttpClient Http(string? token)
    {
        var http = _app!.GetTestClient();
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }
}
