using System.Data.Common;
using System.Net;
using System.Net.Sockets;

namespace Trellis;

/// <summary>Whether an error is worth another attempt.</summary>
public enum ErrorKind
{
    /// <summary>Likely to go away by itself (a timeout, a dropped connection): retried.</summary>
    Transient,

    /// <summary>Will fail the same way again: fails at once.</summary>
    Permanent,

    /// <summary>Neither known to be transient nor marked permanent: retried, as most engines do.</summary>
    Unclassified,
}

/// <summary>
/// Classifies errors from exception types, never from message text.
/// <list type="bullet">
/// <item>Permanent: <see cref="NonRetryableException"/> anywhere in the chain; whatever the policy's
/// <see cref="RetryPolicy.IsPermanent"/> predicate says; database errors that say they are not transient
/// (<see cref="DbException.IsTransient"/> false: constraint violations, syntax errors); HTTP 4xx other than 408 and 429;
/// programming errors, which fail the same way every time (<see cref="NullReferenceException"/>,
/// <see cref="ArgumentException"/> and its kin, <see cref="InvalidCastException"/>, <see cref="NotImplementedException"/>,
/// <see cref="FormatException"/>, <see cref="System.Text.Json.JsonException"/>).</item>
/// <item>Transient: <see cref="DbException.IsTransient"/> (which <c>NpgsqlException</c> implements), timeouts
/// (<see cref="TimeoutException"/>, <see cref="StepTimeoutException"/>), I/O and socket errors, HTTP failures.</item>
/// <item>Anything else is unclassified and retried.</item>
/// </list>
/// </summary>
public static class ErrorClassifier
{
    /// <summary>Whether <paramref name="exception"/> is worth another attempt; <paramref name="policy"/>'s <see cref="RetryPolicy.IsPermanent"/> is asked first.</summary>
    public static ErrorKind Classify(Exception exception, RetryPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (policy?.IsPermanent is { } isPermanent && isPermanent(exception))
        {
            return ErrorKind.Permanent;
        }

        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is NonRetryableException or NonDeterminismException or StepFailedException { Permanent: true })
            {
                return ErrorKind.Permanent;
            }
        }

        return ClassifyType(exception);
    }

    private static ErrorKind ClassifyType(Exception exception) => exception switch
    {
        StepFailedException => ErrorKind.Unclassified,
        DbException db => db.IsTransient ? ErrorKind.Transient : ErrorKind.Permanent,
        NullReferenceException or ArgumentException or InvalidCastException or NotImplementedException or FormatException
            or System.Text.Json.JsonException => ErrorKind.Permanent,
        TimeoutException or StepTimeoutException => ErrorKind.Transient,
        HttpRequestException http => ClassifyHttp(http.StatusCode),
        IOException or SocketException => ErrorKind.Transient,
        // HttpClient reports its own timeout as a TaskCanceledException wrapping a TimeoutException.
        TaskCanceledException { InnerException: TimeoutException } => ErrorKind.Transient,
        AggregateException { InnerExceptions.Count: 1 } aggregate => ClassifyType(aggregate.InnerExceptions[0]),
        _ => exception.InnerException is { } inner && ClassifyType(inner) == ErrorKind.Transient
            ? ErrorKind.Transient
            : ErrorKind.Unclassified,
    };

    private static ErrorKind ClassifyHttp(HttpStatusCode? status) => status switch
    {
        null => ErrorKind.Transient,
        HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests => ErrorKind.Transient,
        >= HttpStatusCode.BadRequest and < HttpStatusCode.InternalServerError => ErrorKind.Permanent,
        _ => ErrorKind.Transient,
    };
}
