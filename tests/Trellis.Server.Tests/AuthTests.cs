using System.Net;
using System.Text;

namespace Trellis.Server.Tests;

/// <summary>Every endpoint with no token, a wrong token, a read token and an admin token.</summary>
public sealed class AuthTests(ApiServer server) : IClassFixture<ApiServer>
{
    public static TheoryData<string, string, string?, bool> Endpoints => new()
    {
        // method, path ({run} is a completed run), body, needs admin
        { "GET", "/api/runs", null, false },
        { "GET", "/api/runs/{run}", null, false },
        { "GET", "/api/runs/{run}/steps", null, false },
        { "GET", "/api/runs/{run}/steps?seq=0", null, false },
        { "GET", "/api/runs/{run}/history", null, false },
        { "GET", "/api/runs/{run}/children", null, false },
        { "GET", "/api/stats", null, false },
        { "GET", "/api/workers", null, false },
        { "GET", "/api/queues", null, false },
        { "GET", "/api/analytics?window=2h", null, false },
        { "POST", "/api/runs", """{"workflow":"Steps","input":{"n":2,"fail":false}}""", true },
        { "POST", "/api/runs/{run}/cancel", null, true },
        { "POST", "/api/runs/{run}/retry", null, true },
        { "POST", "/api/runs/{run}/resume", null, true },
        { "POST", "/api/runs/{run}/fork", """{"fromStep":1}""", true },
        { "POST", "/api/runs/{run}/messages", """{"topic":"t","data":1}""", true },
        { "POST", "/api/events", """{"name":"auth-test","key":"k","data":1}""", true },
        { "POST", "/api/purge", """{"olderThan":"3650d"}""", true },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task WithoutAToken_OrWithAWrongOne_EveryEndpointAnswers401(string method, string path, string? body, bool admin)
    {
        _ = admin;
        foreach (var token in new[] { null, "wrong-token-0123456789abcdef", ApiServer.AdminToken + "x", "" })
        {
            var response = await SendAsync(token, method, path, body);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            await ProblemTests.AssertProblemAsync(response, 401);
        }
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task AReadToken_ReadsButChangesNothing(string method, string path, string? body, bool admin)
    {
        var before = await server.RowCountsAsync();
        var response = await SendAsync(ApiServer.ReadToken, method, path, body);
        if (admin)
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            await ProblemTests.AssertProblemAsync(response, 403);
            Assert.Equal(before, await server.RowCountsAsync());
        }
        else
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task AnAdminToken_IsLetThroughEverywhere(string method, string path, string? body, bool admin)
    {
        _ = admin;
        var response = await SendAsync(ApiServer.AdminToken, method, path, body);
        // Through authorization: a success, or the run's own answer (a completed run cannot be retried: 409).
        Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Conflict, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task HealthAndTheOpenApiDocument_NeedNoToken()
    {
        Assert.Equal(HttpStatusCode.OK, (await server.Http(null).GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http(null).GetAsync("/openapi/v1.json")).StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(string? token, string method, string path, string? body)
    {
        var run = await server.SeedRunAsync();
        var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{run}", run, StringComparison.Ordinal));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var http = server.Http(null);
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {token}");
        }

        return await http.SendAsync(request);
    }
}
