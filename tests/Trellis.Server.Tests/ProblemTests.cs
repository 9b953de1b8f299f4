using System.Net;
using System.Text.Json;

namespace Trellis.Server.Tests;

/// <summary>Every refusal is an RFC 7807 problem: its media type and members, and its status the response's.</summary>
public sealed class ProblemTests(ApiServer server) : IClassFixture<ApiServer>
{
    internal static async Task AssertProblemAsync(HttpResponseMessage response, int status)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        Assert.StartsWith("https://", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("/", problem.GetProperty("instance").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NotFound_BadRequest_Conflict_TooLarge_AndUnsupportedMediaType_AreProblems()
    {
        var admin = server.Http(ApiServer.AdminToken);
        var run = await server.SeedRunAsync();

        var notFound = await admin.GetAsync("/api/runs/no-such-run");
        await AssertProblemAsync(notFound, 404);
        Assert.Contains("no-such-run", await notFound.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await AssertProblemAsync(await admin.GetAsync("/api/runs?limit=0"), 400);
        await AssertProblemAsync(await admin.PostAsync($"/api/runs/{run}/retry", null), 409);
        await AssertProblemAsync(await admin.PostAsync("/api/events", new StringContent(new string('x', 70_000), System.Text.Encoding.UTF8, "application/json")), 413);
        await AssertProblemAsync(await admin.PostAsync("/api/events", new StringContent("{}", System.Text.Encoding.UTF8, "text/plain")), 415);
    }
}
