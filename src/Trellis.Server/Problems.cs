using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Trellis.Server;

/// <summary>RFC 7807 problem details: the one shape of every error the API returns.</summary>
internal static class Problems
{
    /// <summary>A request the API refuses; the handler's caller turns it into a problem response.</summary>
    public sealed class RequestException(int status, string title, string detail) : Exception(detail)
    {
        public int Status { get; } = status;

        public string Title { get; } = title;
    }

    public static RequestException BadRequest(string detail) => new(StatusCodes.Status400BadRequest, "Bad request", detail);

    public static ProblemDetails Of(HttpContext context, int status, string title, string detail) => new()
    {
        Type = $"https://httpstatuses.io/{status}",
        Title = title,
        Status = status,
        Detail = detail,
        Instance = context.Request.Path,
    };

    public static Task WriteAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(Of(context, status, title, detail), ApiJson.Options));
    }

    /// <summary>What an exception from the client means to a caller: its status and title; null for a server error.</summary>
    public static (int Status, string Title)? Classify(Exception exception) => exception switch
    {
        RequestException e => (e.Status, e.Title),
        RunNotFoundException => (StatusCodes.Status404NotFound, "Run not found"),
        UnknownWorkflowException => (StatusCodes.Status404NotFound, "Workflow not found"),
        RunConflictException => (StatusCodes.Status409Conflict, "Run conflict"),
        RunControlException => (StatusCodes.Status409Conflict, "Not possible for this run"),
        InvalidRunInputException => (StatusCodes.Status400BadRequest, "Invalid input"),
        ArgumentException or FormatException or JsonException => (StatusCodes.Status400BadRequest, "Bad request"),
        _ => null,
    };

    /// <summary>Turns what the endpoints of the group throw into problem responses (a server error keeps its 500, logged).</summary>
    public static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex) is { } problem)
        {
            return TypedResults.Problem(Of(context.HttpContext, problem.Status, problem.Title, ex.Message));
        }
    }
}
