using System.Net;
using System.Text.RegularExpressions;

namespace Trellis.Server.Tests;

/// <summary>The dashboard's files are served from the assembly, with nothing fetched from elsewhere; /api/me says what a token may do.</summary>
public sealed partial class DashboardAssetTests(ApiServer server) : IClassFixture<ApiServer>
{
    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/dashboard/app.js", "text/javascript")]
    [InlineData("/dashboard/app.css", "text/css")]
    public async Task EachFile_IsServedWithItsType_AndAPolicyThatLoadsNothingFromElsewhere(string path, string mediaType)
    {
        var response = await server.Http(null).GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotMatch(ExternalReference(), text);
    }

    [Fact]
    public async Task Me_SaysTheTokensScope()
    {
        Assert.Equal("read", (await ApiRunTests.Json(await server.Http(ApiServer.ReadToken).GetAsync("/api/me"))).GetProperty("scope").GetString());
        Assert.Equal("admin", (await ApiRunTests.Json(await server.Http(ApiServer.AdminToken).GetAsync("/api/me"))).GetProperty("scope").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http(null).GetAsync("/api/me")).StatusCode);
    }

    /// <summary>A script, style or font loaded from another origin.</summary>
    [GeneratedRegex(@"(src|href)\s*=\s*[""']?(https?:)?//|@import\s+url\(\s*[""']?https?:", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();
}
