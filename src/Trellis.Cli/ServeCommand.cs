using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Spectre.Console;
using Trellis.Postgres;
using Trellis.Server;

namespace Trellis.Cli;

/// <summary><c>trellis serve</c>: the HTTP API (and /health) on this machine's database.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "Where to listen. Default http://127.0.0.1:5088 (this machine only).", DefaultValueFactory = _ => "http://127.0.0.1:5088" };
        var readToken = new Option<string?>("--read-token") { Description = "A bearer token that may read (also TRELLIS_API_READ_TOKEN)." };
        var adminToken = new Option<string?>("--admin-token") { Description = "A bearer token that may also change things (also TRELLIS_API_ADMIN_TOKEN)." };
        var workers = new Option<bool>("--workers")
        {
            Description = "Also run a worker in this process, for the workflows this tool knows: the demo's (your own run in your own worker processes).",
        };
        var open = new Option<bool>("--allow-open-remote")
        {
            Description = "Listen beyond this machine without any token configured (anyone who reaches the port can change runs).",
        };
        var command = new Command("serve", "Serve the HTTP API: runs, steps, history, events, run control, /health and /openapi/v1.json.")
        {
            urls, readToken, adminToken, workers, open,
        };
        command.SetAction((parse, ct) => Cli.WithContextAsync(parse, async context =>
        {
            var tokens = new List<ApiToken>();
            if ((parse.GetValue(readToken) ?? Env("TRELLIS_API_READ_TOKEN")) is { } read)
            {
                tokens.Add(new ApiToken { Token = read, Scope = ApiScope.Read, Name = "read" });
            }

            if ((parse.GetValue(adminToken) ?? Env("TRELLIS_API_ADMIN_TOKEN")) is { } admin)
            {
                tokens.Add(new ApiToken { Token = admin, Scope = ApiScope.Admin, Name = "admin" });
            }

            var addresses = parse.GetValue(urls)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (tokens.Count == 0 && !parse.GetValue(open) && addresses.FirstOrDefault(a => !OpenApiGuard.IsLoopback(a)) is { } remote)
            {
                throw new ArgumentException(
                    $"No API token is configured, so the API is open to whoever reaches it; it listens beyond this machine ({remote}) only with --allow-open-remote. "
                    + "Give tokens with --read-token/--admin-token (or TRELLIS_API_READ_TOKEN/TRELLIS_API_ADMIN_TOKEN), or listen on 127.0.0.1.");
            }

            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseUrls(addresses);
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
            // Trellis logs a database outage once; the health check service would log it again on every /health call.
            builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical);
            builder.Services.AddTrellis(trellis => context.UseDatabase(trellis)
                .AddWorkflow(_ => new MangaToVideo.MangaToVideoWorkflow(new MangaToVideo.PageTools()))
                .ConfigureWorker(w => w.Enabled = parse.GetValue(workers)));
            builder.Services.AddTrellisApi(api =>
            {
                foreach (var token in tokens)
                {
                    api.Tokens.Add(token);
                }

                api.AllowOpenRemote = parse.GetValue(open);
            });
            // /metrics in the Prometheus text format: this process's Trellis meter (runs started, claims, checkpoints).
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddTrellisInstrumentation().AddPrometheusExporter());
            await using var app = builder.Build();
            app.MapTrellisApi();
            app.MapTrellisDashboard();
            app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(ApiPolicies.Read);
            await app.StartAsync(ct);
            AnsiConsole.MarkupLine($"Trellis dashboard on [bold]{Markup.Escape(string.Join(", ", app.Urls.Select(url => url.TrimEnd('/') + "/")))}[/] (open it in a browser), API under /api (health: /health, OpenAPI: /openapi/v1.json, metrics: /metrics)"
                + (parse.GetValue(workers) ? ", with a worker for the demo's workflows" : "")
                + (tokens.Count == 0 ? "; [yellow]no token configured: open to this machine[/]" : $"; {tokens.Count} token(s)") + ". Ctrl+C stops it.");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }

            await app.StopAsync(CancellationToken.None);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
