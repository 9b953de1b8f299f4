using System.Text;

namespace Trellis.Server.Tests;

/// <summary>Malformed requests of many kinds: each is answered with a 4xx problem (never a 5xx), and no row changes.</summary>
public sealed class BadRequestTests(ApiServer server) : IClassFixture<ApiServer>
{
    private static readonly string Deep = new string('[', 100) + new string(']', 100);

    public static TheoryData<string, string, string?, string, int> Requests => new()
    {
        // name, method and path ({run}: a completed run), body, content type, expected status
        { "start without a body", "POST /api/runs", null, "application/json", 400 },
        { "start with a body that is not JSON", "POST /api/runs", "workflow=Steps", "application/json", 400 },
        { "start with an array", "POST /api/runs", "[]", "application/json", 400 },
        { "start with a number", "POST /api/runs", "42", "application/json", 400 },
        { "start without a workflow", "POST /api/runs", "{}", "application/json", 400 },
        { "start with a numeric workflow", "POST /api/runs", """{"workflow":42}""", "application/json", 400 },
        { "start with an empty workflow", "POST /api/runs", """{"workflow":""}""", "application/json", 400 },
        { "start of an unknown workflow", "POST /api/runs", """{"workflow":"Nope","input":1}""", "application/json", 404 },
        { "start with a misspelled member", "POST /api/runs", """{"wokflow":"Steps"}""", "application/json", 400 },
        { "start with a text priority", "POST /api/runs", """{"workflow":"Steps","priority":"high"}""", "application/json", 400 },
        { "start with a fractional priority", "POST /api/runs", """{"workflow":"Steps","priority":1.5}""", "application/json", 400 },
        { "start with tags that are not an object", "POST /api/runs", """{"workflow":"Steps","tags":"x"}""", "application/json", 400 },
        { "start with a numeric tag", "POST /api/runs", """{"workflow":"Steps","tags":{"a":1}}""", "application/json", 400 },
        { "start with an empty tag key", "POST /api/runs", """{"workflow":"Steps","tags":{"":"a"},"input":{"n":1}}""", "application/json", 400 },
        { "start with a negative delay", "POST /api/runs", """{"workflow":"Steps","delaySeconds":-1}""", "application/json", 400 },
        { "start with a text delay", "POST /api/runs", """{"workflow":"Steps","delaySeconds":"soon"}""", "application/json", 400 },
        { "start with a zero timeout", "POST /api/runs", """{"workflow":"Steps","timeoutSeconds":0}""", "application/json", 400 },
        { "start with zero attempts", "POST /api/runs", """{"workflow":"Steps","maxAttempts":0}""", "application/json", 400 },
        { "start with too many attempts", "POST /api/runs", """{"workflow":"Steps","maxAttempts":5000}""", "application/json", 400 },
        { "start with version 0", "POST /api/runs", """{"workflow":"Steps","version":0}""", "application/json", 400 },
        { "start of an unknown version", "POST /api/runs", """{"workflow":"Steps","version":99,"input":{"n":1}}""", "application/json", 404 },
        { "start with an empty run id", "POST /api/runs", """{"workflow":"Steps","runId":"","input":{"n":1}}""", "application/json", 400 },
        { "start with a run id too long", "POST /api/runs", $$$"""{"workflow":"Steps","runId":"{{{new string('r', 300)}}}","input":{"n":1}}""", "application/json", 400 },
        { "start with a bad queue name", "POST /api/runs", """{"workflow":"Steps","queue":"bad queue!","input":{"n":1}}""", "application/json", 400 },
        { "start with an input of the wrong type", "POST /api/runs", """{"workflow":"Steps","input":"abc"}""", "application/json", 400 },
        { "start with JSON nested too deep", "POST /api/runs", """{"workflow":"Steps","input":""" + Deep + "}", "application/json", 400 },
        { "start with a body too large", "POST /api/runs", $$"""{"workflow":"Steps","input":"{{new string('x', 70_000)}}"}""", "application/json", 413 },
        { "start sent as text", "POST /api/runs", """{"workflow":"Steps"}""", "text/plain", 415 },
        { "list by an unknown status", "GET /api/runs?status=bogus", null, "", 400 },
        { "list with limit 0", "GET /api/runs?limit=0", null, "", 400 },
        { "list with limit 5000", "GET /api/runs?limit=5000", null, "", 400 },
        { "list with a text limit", "GET /api/runs?limit=abc", null, "", 400 },
        { "list since a word", "GET /api/runs?since=yesterday", null, "", 400 },
        { "list by a tag without a value", "GET /api/runs?tag=novalue", null, "", 400 },
        { "list with an unknown parameter", "GET /api/runs?unknown=1", null, "", 400 },
        { "list with a repeated parameter", "GET /api/runs?status=failed&status=completed", null, "", 400 },
        { "list with a forged cursor", "GET /api/runs?cursor=garbage", null, "", 400 },
        { "list with an empty parameter", "GET /api/runs?workflow=", null, "", 400 },
        { "list by an empty queue", "GET /api/runs?queue=", null, "", 400 },
        { "queues over a window too long", "GET /api/queues?window=90d", null, "", 400 },
        { "queues over a word", "GET /api/queues?window=lately", null, "", 400 },
        { "queues with an unknown parameter", "GET /api/queues?queue=api", null, "", 400 },
        { "stats with an unknown parameter", "GET /api/stats?status=failed", null, "", 400 },
        { "read an unknown run", "GET /api/runs/no-such-run", null, "", 404 },
        { "read a run id too long", $"GET /api/runs/{new string('r', 300)}", null, "", 400 },
        { "steps at a negative position", "GET /api/runs/{run}/steps?seq=-1", null, "", 400 },
        { "steps at a text position", "GET /api/runs/{run}/steps?seq=abc", null, "", 400 },
        { "step items with limit 0", "GET /api/runs/{run}/steps?seq=0&limit=0", null, "", 400 },
        { "steps of an unknown run", "GET /api/runs/no-such-run/steps", null, "", 404 },
        { "history of an unknown run", "GET /api/runs/no-such-run/history", null, "", 404 },
        { "children of an unknown run", "GET /api/runs/no-such-run/children", null, "", 404 },
        { "cancel an unknown run", "POST /api/runs/no-such-run/cancel", null, "", 404 },
        { "retry a completed run", "POST /api/runs/{run}/retry", null, "", 409 },
        { "resume a completed run", "POST /api/runs/{run}/resume", null, "", 409 },
        { "retry an unknown run", "POST /api/runs/no-such-run/retry", null, "", 404 },
        { "fork without a body", "POST /api/runs/{run}/fork", null, "application/json", 400 },
        { "fork from nowhere", "POST /api/runs/{run}/fork", "{}", "application/json", 400 },
        { "fork from a position and a name", "POST /api/runs/{run}/fork", """{"fromStep":1,"fromStepName":"second"}""", "application/json", 400 },
        { "fork from a negative position", "POST /api/runs/{run}/fork", """{"fromStep":-1}""", "application/json", 400 },
        { "fork from a text position", "POST /api/runs/{run}/fork", """{"fromStep":"one"}""", "application/json", 400 },
        { "fork from a step that does not exist", "POST /api/runs/{run}/fork", """{"fromStep":99}""", "application/json", 409 },
        { "fork from a step name that does not exist", "POST /api/runs/{run}/fork", """{"fromStepName":"nope"}""", "application/json", 409 },
        { "fork of an unknown run", "POST /api/runs/no-such-run/fork", """{"fromStep":0}""", "application/json", 404 },
        { "fork into a bad run id", "POST /api/runs/{run}/fork", """{"fromStep":0,"runId":""}""", "application/json", 400 },
        { "a message without a topic", "POST /api/runs/{run}/messages", """{"data":1}""", "application/json", 400 },
        { "a message with a numeric topic", "POST /api/runs/{run}/messages", """{"topic":5}""", "application/json", 400 },
        { "a message to an unknown run", "POST /api/runs/no-such-run/messages", """{"topic":"t"}""", "application/json", 404 },
        { "an event without anything", "POST /api/events", "{}", "application/json", 400 },
        { "an event without a key", "POST /api/events", """{"name":"go"}""", "application/json", 400 },
        { "an event with an empty name", "POST /api/events", """{"name":"","key":"k"}""", "application/json", 400 },
        { "an event with a key too long", "POST /api/events", $$"""{"name":"go","key":"{{new string('k', 300)}}"}""", "application/json", 400 },
        { "an event named as a message", "POST /api/events", """{"name":"message:t","key":"k"}""", "application/json", 400 },
        { "no events in a batch", "POST /api/events", """{"events":[]}""", "application/json", 400 },
        { "a batch of numbers", "POST /api/events", """{"events":[1]}""", "application/json", 400 },
        { "a batch with one bad event among good ones", "POST /api/events", """{"events":[{"name":"a","key":"k"},{"name":"b"}]}""", "application/json", 400 },
        { "a purge without an age", "POST /api/purge", "{}", "application/json", 400 },
        { "a purge of a word", "POST /api/purge", """{"olderThan":"old"}""", "application/json", 400 },
        { "a purge of zero days", "POST /api/purge", """{"olderThan":"0d"}""", "application/json", 400 },
        { "a purge of an empty workflow", "POST /api/purge", """{"olderThan":"30d","workflow":" "}""", "application/json", 400 },
        { "a batch and an event at once", "POST /api/events", """{"events":[{"name":"a","key":"k"}],"name":"b"}""", "application/json", 400 },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task IsAnswered4xx_WithAProblem_AndChangesNoRow(string name, string request, string? body, string contentType, int status)
    {
        var run = await server.SeedRunAsync();
        var before = await server.RowCountsAsync();
        var (method, path) = (request.Split(' ')[0], request.Split(' ', 2)[1].Replace("{run}", run, StringComparison.Ordinal));
        var message = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            message.Content = new StringContent(body, Encoding.UTF8);
            message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }

        var response = await server.Http(ApiServer.AdminToken).SendAsync(message);
        Assert.True(status == (int)response.StatusCode, $"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await ProblemTests.AssertProblemAsync(response, status);
        Assert.Equal(before, await server.RowCountsAsync());
    }

    [Fact]
    public void ThereAreAtLeastFiftyKinds() => Assert.True(Requests.Count >= 50, $"{Requests.Count} kinds");
}
