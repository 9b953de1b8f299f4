using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Trellis.Server;

namespace Microsoft.AspNetCore.Builder;

/// <summary><c>AddTrellisApi()</c> and <c>MapTrellisApi()</c>: the Trellis HTTP API in an ASP.NET Core application.</summary>
public static class TrellisApiExtensions
{
    /// <summary>
    /// Registers what the API needs: the bearer-token authentication and its two policies (<see cref="ApiPolicies"/>),
    /// problem details, and the OpenAPI document. Trellis itself is registered with <c>AddTrellis(...)</c>.
    /// </summary>
    public static IServiceCollection AddTrellisApi(this IServiceCollection services, Action<TrellisApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<TrellisApiOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o =>
        {
            o.Validate();
            return true;
        });
        services.AddAuthentication(BearerTokenHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicies.Read, p => p.RequireClaim(BearerTokenHandler.ScopeClaim, nameof(ApiScope.Read)))
            .AddPolicy(ApiPolicies.Admin, p => p.RequireClaim(BearerTokenHandler.ScopeClaim, nameof(ApiScope.Admin)));
        services.AddProblemDetails();
        services.AddOpenApi("v1", o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Trellis";
            document.Info.Description = "Runs, steps, history, events and run control. Every endpoint but /health needs a bearer token; changes need the admin scope.";
            return Task.CompletedTask;
        }));
        return services;
    }

    /// <summary>
    /// Maps the API: <c>/api/...</c> (runs, events), <c>/health</c> (no token) and <c>/openapi/v1.json</c> (no token).
    /// Call <c>UseAuthentication()</c> and <c>UseAuthorization()</c> before it (or let the minimal hosting do so).
    /// </summary>
    public static IEndpointRouteBuilder MapTrellisApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<TrellisApiOptions>>().Value; // validated now, not at the first request
        if (options.Tokens.Count == 0 && !options.AllowOpenRemote)
        {
            OpenApiGuard.StopIfListeningBeyondLoopback(endpoints.ServiceProvider);
        }

        var api = endpoints.MapGroup("/api").AddEndpointFilter(Problems.FilterAsync);
        RunEndpoints.Map(api);
        EventEndpoints.Map(api);
        StatisticsEndpoints.Map(api);
        PurgeEndpoint.Map(api);
        DashboardEndpoints.MapMe(api);
        endpoints.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync }).WithTags("Health");
        endpoints.MapOpenApi("/openapi/{documentName}.json");
        return endpoints;
    }

    /// <summary>
    /// Maps the dashboard under <c>/</c> (a page, its script and style, all embedded): it asks for a token once per
    /// browser session and shows what the API shows, with the admin actions only for an admin token. Map it with
    /// <see cref="MapTrellisApi"/>, whose endpoints it calls.
    /// </summary>
    public static IEndpointRouteBuilder MapTrellisDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        DashboardEndpoints.MapAssets(endpoints);
        return endpoints;
    }

    /// <summary>The health report as JSON: the overall status, and each check's status, reason and data.</summary>
    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            totalDurationMs = report.TotalDuration.TotalMilliseconds,
            checkedAt = DateTimeOffset.UtcNow,
            entries = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                durationMs = e.Value.Duration.TotalMilliseconds,
                data = e.Value.Data,
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, ApiJson.Options));
    }
}
