using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Trellis.Server;

/// <summary>The runs: list, read, start, and the run control (cancel, retry, resume, fork, messages).</summary>
internal static class RunEndpoints
{
    private const int MaxItemsPage = 1000;

    public static void Map(RouteGroupBuilder api)
    {
        var runs = api.MapGroup("/runs").WithTags("Runs");
        runs.MapGet("", ListAsync).RequireAuthorization(ApiPolicies.Read).WithSummary("Lists runs, newest first, keyset-paged.");
        runs.MapGet("/{id}", GetAsync).RequireAuthorization(ApiPolicies.Read).WithSummary("Reads one run.");
        runs.MapGet("/{id}/steps", StepsAsync).RequireAuthorization(ApiPolicies.Read)
            .WithSummary("A run's steps; with ?seq=N, one page of the items of the per-item step at position N.");
        runs.MapGet("/{id}/history", HistoryAsync).RequireAuthorization(ApiPolicies.Read).WithSummary("A run's history, oldest first.");
        runs.MapGet("/{id}/children", ChildrenAsync).RequireAuthorization(ApiPolicies.Read).WithSummary("The child runs a run started.");
        runs.MapPost("", StartAsync).RequireAuthorization(ApiPolicies.Admin).WithSummary("Starts a run of a workflow by name with a JSON input.");
        runs.MapPost("/{id}/cancel", CancelAsync).RequireAuthorization(ApiPolicies.Admin).WithSummary("Cancels a run (and its children).");
        runs.MapPost("/{id}/retry", RetryAsync).RequireAuthorization(ApiPolicies.Admin).WithSummary("Runs a failed run again from its failed step.");
        runs.MapPost("/{id}/resume", ResumeAsync).RequireAuthorization(ApiPolicies.Admin).WithSummary("Resumes a cancelled run, or one stopped by worker losses.");
        runs.MapPost("/{id}/fork", ForkAsync).RequireAuthorization(ApiPolicies.Admin).WithSummary("A new run from a run's checkpoints before a step.");
        runs.MapPost("/{id}/messages", SendAsync).RequireAuthorization(ApiPolicies.Admin).WithSummary("Sends a message to a run (ReceiveAsync).");
    }

    private static async Task<IResult> ListAsync(HttpRequest request, TrellisClient client, CancellationToken cancellationToken)
    {
        var query = request.Query;
        ApiQuery.OnlyKnown(query, "status", "workflow", "queue", "correlationId", "tag", "since", "until", "limit", "cursor");
        var tag = ApiQuery.String(query, "tag") is { } tagText
            ? tagText.Split('=', 2) is [var key, var value] && key.Length > 0 ? new KeyValuePair<string, string>(key, value)
                : throw Problems.BadRequest("'tag' must be key=value.")
            : (KeyValuePair<string, string>?)null;
        var page = await client.ListRunsAsync(new RunQuery
        {
            Status = ApiQuery.String(query, "status") is { } status ? ApiQuery.Status(status) : null,
            WorkflowName = ApiQuery.String(query, "workflow"),
            Queue = ApiQuery.String(query, "queue"),
            CorrelationId = ApiQuery.String(query, "correlationId"),
            Tag = tag,
            CreatedAfter = ApiQuery.Time(query, "since"),
            CreatedBefore = ApiQuery.Time(query, "until"),
            Limit = ApiQuery.Int(query, "limit", 1, 1000) ?? 100,
            Cursor = ApiQuery.String(query, "cursor"),
        }, cancellationToken);
        return ApiJson.Ok(new RunPageView([.. page.Runs.Select(RunView.Of)], page.NextCursor));
    }

    private static async Task<IResult> GetAsync(string id, TrellisClient client, CancellationToken cancellationToken) =>
        ApiJson.Ok(RunView.Of(await client.GetRunAsync(id, cancellationToken) ?? throw new RunNotFoundException(id)));

    private static async Task<IResult> StepsAsync(string id, HttpRequest request, TrellisClient client, CancellationToken cancellationToken)
    {
        ApiQuery.OnlyKnown(request.Query, "seq", "after", "limit");
        if (ApiQuery.Int(request.Query, "seq", 0, int.MaxValue) is { } sequence)
        {
            var after = ApiQuery.Int(request.Query, "after", -1, int.MaxValue) ?? -1;
            var limit = ApiQuery.Int(request.Query, "limit", 1, MaxItemsPage) ?? MaxItemsPage;
            var items = await client.GetStepItemsAsync(id, sequence, after, limit, cancellationToken);
            await EnsureExistsWhenNoneAsync(items.Count, client, id, cancellationToken);
            return ApiJson.Ok(new StepItemsView(sequence, [.. items.Select(StepView.Of)], items.Count == limit ? items[^1].ItemIndex : null));
        }

        var steps = await client.GetStepOverviewAsync(id, cancellationToken);
        await EnsureExistsWhenNoneAsync(steps.Steps.Count + steps.PerItem.Count, client, id, cancellationToken);
        return ApiJson.Ok(new StepsView([.. steps.Steps.Select(StepView.Of)], [.. steps.PerItem.Select(PerItemStepView.Of)]));
    }

    private static async Task<IResult> HistoryAsync(string id, TrellisClient client, CancellationToken cancellationToken)
    {
        var history = await client.GetHistoryAsync(id, cancellationToken);
        await EnsureExistsWhenNoneAsync(history.Count, client, id, cancellationToken);
        return ApiJson.Ok(history.Select(HistoryView.Of).ToList());
    }

    private static async Task<IResult> ChildrenAsync(string id, TrellisClient client, CancellationToken cancellationToken)
    {
        var children = await client.GetChildrenAsync(id, cancellationToken);
        await EnsureExistsWhenNoneAsync(children.Count, client, id, cancellationToken);
        return ApiJson.Ok(children.Select(RunView.Of).ToList());
    }

    private static async Task<IResult> StartAsync(HttpRequest request, TrellisClient client, IOptions<TrellisApiOptions> options, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(request, options.Value);
        ApiJson.OnlyKnown(body, "workflow", "input", "runId", "queue", "priority", "tags", "correlationId", "delaySeconds", "timeoutSeconds", "maxAttempts", "version");
        var workflow = ApiJson.String(body, "workflow", required: true)!;
        var start = new StartOptions
        {
            RunId = ApiJson.String(body, "runId"),
            Queue = ApiJson.String(body, "queue"),
            Priority = ApiJson.Int(body, "priority") ?? 0,
            Tags = ApiJson.StringMap(body, "tags"),
            CorrelationId = ApiJson.String(body, "correlationId"),
            Delay = ApiJson.Seconds(body, "delaySeconds"),
            Timeout = ApiJson.Seconds(body, "timeoutSeconds") is { } timeout && timeout > TimeSpan.Zero ? timeout
                : body["timeoutSeconds"] is null ? null : throw Problems.BadRequest("'timeoutSeconds' must be positive."),
            MaxAttempts = ApiJson.Int(body, "maxAttempts", 1, 1000),
            WorkflowVersion = ApiJson.Int(body, "version", 1),
        };
        var input = body["input"]?.ToJsonString() ?? "null";
        var run = await client.StartJsonAsync(workflow, input, start, cancellationToken);
        var info = await run.GetAsync(cancellationToken);
        if (!run.Created)
        {
            return ApiJson.Ok(RunView.Of(info));
        }

        request.HttpContext.Response.Headers.Location = $"{request.PathBase}/api/runs/{Uri.EscapeDataString(run.RunId)}";
        return TypedResults.Json(RunView.Of(info), ApiJson.Options, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> CancelAsync(string id, TrellisClient client, CancellationToken cancellationToken) =>
        ApiJson.Ok(RunView.Of(await client.CancelAsync(id, cancellationToken)));

    private static async Task<IResult> RetryAsync(string id, TrellisClient client, CancellationToken cancellationToken) =>
        ApiJson.Ok(RunView.Of(await client.RetryAsync(id, cancellationToken)));

    private static async Task<IResult> ResumeAsync(string id, TrellisClient client, CancellationToken cancellationToken) =>
        ApiJson.Ok(RunView.Of(await client.ResumeAsync(id, cancellationToken)));

    private static async Task<IResult> ForkAsync(string id, HttpRequest request, TrellisClient client, IOptions<TrellisApiOptions> options, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(request, options.Value);
        ApiJson.OnlyKnown(body, "fromStep", "fromStepName", "runId", "version", "queue");
        var fork = new ForkOptions { RunId = ApiJson.String(body, "runId"), WorkflowVersion = ApiJson.Int(body, "version", 1), Queue = ApiJson.String(body, "queue") };
        var (position, name) = (ApiJson.Int(body, "fromStep", 0), ApiJson.String(body, "fromStepName"));
        var run = (position, name) switch
        {
            ({ } p, null) => await client.ForkAsync(id, p, fork, cancellationToken),
            (null, { } n) => await client.ForkAsync(id, n, fork, cancellationToken),
            _ => throw Problems.BadRequest("Give one of 'fromStep' (a step position) or 'fromStepName'."),
        };
        return ApiJson.Ok(RunView.Of(run));
    }

    private static async Task<IResult> SendAsync(string id, HttpRequest request, TrellisClient client, IOptions<TrellisApiOptions> options, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(request, options.Value);
        ApiJson.OnlyKnown(body, "topic", "data");
        var topic = ApiJson.String(body, "topic", required: true)!;
        await client.SendAsync(id, topic, body["data"], cancellationToken);
        return TypedResults.Accepted((string?)null);
    }

    private static Task<JsonObject> ReadAsync(HttpRequest request, TrellisApiOptions options) =>
        ApiJson.ReadObjectAsync(request, options.MaxRequestBytes, options.MaxJsonDepth);

    /// <summary>
    /// A run's rows were read and there are none: a 404 when the run does not exist either. Read only then, so that a
    /// run with rows costs one round trip.
    /// </summary>
    private static async Task EnsureExistsWhenNoneAsync(int rows, TrellisClient client, string id, CancellationToken cancellationToken)
    {
        if (rows == 0)
        {
            _ = await client.GetRunAsync(id, cancellationToken) ?? throw new RunNotFoundException(id);
        }
    }
}
