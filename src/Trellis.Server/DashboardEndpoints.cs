using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Trellis.Server;

/// <summary>
/// The dashboard: a page and its script and style, embedded in this assembly (nothing from a CDN), served under
/// <c>/</c>; it calls the API with the token the user enters. And <c>GET /api/me</c>, which tells it what the token may do.
/// </summary>
internal static class DashboardEndpoints
{
    private static readonly (string Path, string Resource, string ContentType)[] Assets =
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/dashboard/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/app.css", "app.css", "text/css; charset=utf-8"),
    ];

    public static void MapMe(RouteGroupBuilder api) =>
        api.MapGet("/me", (ClaimsPrincipal user) => ApiJson.Ok(new
        {
            name = user.Identity?.Name,
            scope = user.HasClaim(BearerTokenHandler.ScopeClaim, nameof(ApiScope.Admin)) ? "admin" : "read",
        })).WithTags("Dashboard").RequireAuthorization(ApiPolicies.Read).WithSummary("The token's name and scope (read or admin).");

    public static void MapAssets(IEndpointRouteBuilder endpoints)
    {
        foreach (var (path, resource, contentType) in Assets)
        {
            var bytes = Load(resource);
            endpoints.MapGet(path, (HttpContext context) =>
            {
                // The page is public (it asks for the token); what it shows comes from the API, behind the token.
                context.Response.Headers.CacheControl = "no-cache";
                context.Response.Headers["X-Content-Type-Options"] = "nosniff";
                context.Response.Headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'";
                return Results.Bytes(bytes, contentType);
            }).ExcludeFromDescription();
        }
    }

    private static byte[] Load(string resource)
    {
        using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream($"Trellis.Server.Dashboard.{resource}")
            ?? throw new InvalidOperationException($"The dashboard's {resource} is not embedded in Trellis.Server.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
