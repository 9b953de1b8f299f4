using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trellis.Server;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;token&gt;</c> against the configured tokens. Tokens are compared as SHA-256
/// digests in constant time, so neither a token's content nor its length shows in the time a refusal takes.
/// </summary>
internal sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptions<TrellisApiOptions> api)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "TrellisBearer";
    public const string ScopeClaim = "trellis:scope";

    private readonly (byte[] Digest, ApiToken Token)[] _tokens = [.. api.Value.Tokens.Select(t => (Digest(t.Token), t))];

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (_tokens.Length == 0)
        {
            // No tokens configured: an open API on loopback (see TrellisApiOptions.Tokens).
            return Task.FromResult(AuthenticateResult.Success(Ticket("anonymous (no tokens configured)", ApiScope.Admin)));
        }

        if (string.IsNullOrEmpty(header))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > 1024)
        {
            return Task.FromResult(AuthenticateResult.Fail("The Authorization header is not a bearer token."));
        }

        var presented = Digest(header[7..].Trim());
        ApiToken? match = null;
        foreach (var (digest, token) in _tokens)
        {
            // Every token is compared, matched or not: the time does not say which one matched.
            if (CryptographicOperations.FixedTimeEquals(digest, presented))
            {
                match = token;
            }
        }

        if (match is null)
        {
            return Task.FromResult(AuthenticateResult.Fail("The bearer token is not valid."));
        }

        return Task.FromResult(AuthenticateResult.Success(Ticket(match.Name ?? "token", match.Scope)));
    }

    private static AuthenticationTicket Ticket(string name, ApiScope scope)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name), new(ScopeClaim, nameof(ApiScope.Read)) };
        if (scope == ApiScope.Admin)
        {
            claims.Add(new Claim(ScopeClaim, nameof(ApiScope.Admin)));
        }

        return new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized",
            Request.Headers.Authorization.Count == 0 ? "This endpoint needs a bearer token (Authorization: Bearer <token>)." : "The bearer token is not valid.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden", "This endpoint needs a token with the admin scope.");

    private static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
