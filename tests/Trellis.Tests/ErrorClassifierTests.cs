using System.Data.Common;
using System.Net;
using System.Net.Sockets;

namespace Trellis.Tests;

public class ErrorClassifierTests
{
    [Fact]
    public void Classify_NonRetryableException_IsPermanent()
    {
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new NonRetryableException("no")));
    }

    [Fact]
    public void Classify_NonRetryableExceptionAsInnerException_IsPermanent()
    {
        var wrapped = new InvalidOperationException("outer", new NonRetryableException("inner"));

        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(wrapped));
    }

    [Fact]
    public void Classify_NonRetryableExceptionDeepInChain_IsPermanent()
    {
        var wrapped = new InvalidOperationException("a", new ArgumentException("b", new NonRetryableException("c", new TimeoutException())));

        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(wrapped));
    }

    [Fact]
    public void Classify_NonRetryableSubclass_IsPermanent()
    {
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new PaymentDeclinedException()));
    }

    [Fact]
    public void Classify_PolicyIsPermanentReturnsTrue_IsPermanentEvenForTransientType()
    {
        var policy = new RetryPolicy { IsPermanent = ex => ex is TimeoutException };

        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new TimeoutException(), policy));
    }

    [Fact]
    public void Classify_PolicyIsPermanentReturnsFalse_FallsBackToBuiltInClassification()
    {
        var policy = new RetryPolicy { IsPermanent = _ => false };

        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new TimeoutException(), policy));
        Assert.Equal(ErrorKind.Unclassified, ErrorClassifier.Classify(new InvalidOperationException(), policy));
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new NonRetryableException("x"), policy));
    }

    [Fact]
    public void Classify_PolicyIsPermanentMatchesUnclassified_IsPermanent()
    {
        var policy = new RetryPolicy { IsPermanent = ex => ex is KeyNotFoundException };

        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new KeyNotFoundException("bad"), policy));
        Assert.Equal(ErrorKind.Unclassified, ErrorClassifier.Classify(new KeyNotFoundException("bad")));
    }

    [Theory]
    [InlineData(typeof(NullReferenceException))]
    [InlineData(typeof(ArgumentException))]
    [InlineData(typeof(ArgumentNullException))]
    [InlineData(typeof(ArgumentOutOfRangeException))]
    [InlineData(typeof(InvalidCastException))]
    [InlineData(typeof(NotImplementedException))]
    [InlineData(typeof(FormatException))]
    [InlineData(typeof(System.Text.Json.JsonException))]
    public void Classify_ProgrammingError_IsPermanent(Type type)
    {
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify((Exception)Activator.CreateInstance(type)!));
    }

    [Fact]
    public void Classify_TimeoutException_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new TimeoutException()));
    }

    [Fact]
    public void Classify_IOException_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new IOException("pipe")));
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new EndOfStreamException()));
    }

    [Fact]
    public void Classify_SocketException_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new SocketException((int)SocketError.ConnectionReset)));
    }

    [Fact]
    public void Classify_StepTimeoutException_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new StepTimeoutException("fetch", TimeSpan.FromSeconds(3))));
    }

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.BadGateway)]
    [InlineData(HttpStatusCode.GatewayTimeout)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.RequestTimeout)]
    public void Classify_HttpRequestExceptionWithRetryableStatus_IsTransient(HttpStatusCode status)
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new HttpRequestException("http", null, status)));
    }

    [Fact]
    public void Classify_HttpRequestExceptionWithoutStatus_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new HttpRequestException("connection refused", null, null)));
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.Conflict)]
    [InlineData(HttpStatusCode.UnprocessableEntity)]
    public void Classify_HttpRequestExceptionWithClientErrorStatus_IsPermanent(HttpStatusCode status)
    {
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new HttpRequestException("http", null, status)));
    }

    [Fact]
    public void Classify_DbExceptionTransient_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new FakeDbException(isTransient: true)));
    }

    [Fact]
    public void Classify_DbExceptionNotTransient_IsPermanent()
    {
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new FakeDbException(isTransient: false)));
    }

    [Fact]
    public void Classify_InvalidOperationException_IsUnclassified()
    {
        Assert.Equal(ErrorKind.Unclassified, ErrorClassifier.Classify(new InvalidOperationException("bug")));
    }

    [Fact]
    public void Classify_ExceptionWrappingTransient_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new InvalidOperationException("outer", new IOException("inner"))));
    }

    [Fact]
    public void Classify_StepFailedExceptionPermanent_IsPermanent()
    {
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(StepFailed(permanent: true, inner: new InvalidOperationException())));
    }

    [Fact]
    public void Classify_StepFailedExceptionNotPermanent_IsUnclassified()
    {
        Assert.Equal(ErrorKind.Unclassified, ErrorClassifier.Classify(StepFailed(permanent: false, inner: new InvalidOperationException())));
    }

    [Fact]
    public void Classify_StepFailedExceptionNotPermanentWrappingTimeout_IsUnclassified()
    {
        // The step used up its attempts on timeouts; at run level that is neither transient nor permanent.
        Assert.Equal(ErrorKind.Unclassified, ErrorClassifier.Classify(StepFailed(permanent: false, inner: new TimeoutException())));
    }

    [Fact]
    public void Classify_TaskCanceledExceptionWrappingTimeout_IsTransient()
    {
        var httpClientTimeout = new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout", new TimeoutException());

        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(httpClientTimeout));
    }

    [Fact]
    public void Classify_PlainTaskCanceledException_IsUnclassified()
    {
        Assert.Equal(ErrorKind.Unclassified, ErrorClassifier.Classify(new TaskCanceledException()));
    }

    [Fact]
    public void Classify_AggregateOfOneTransient_IsTransient()
    {
        Assert.Equal(ErrorKind.Transient, ErrorClassifier.Classify(new AggregateException(new TimeoutException())));
    }

    [Fact]
    public void Classify_NonDeterminismException_IsPermanent()
    {
        Assert.Equal(ErrorKind.Permanent, ErrorClassifier.Classify(new NonDeterminismException("run-1", 2, "a", "b")));
    }

    [Fact]
    public void Classify_Null_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => ErrorClassifier.Classify(null!));
    }

    private static StepFailedException StepFailed(bool permanent, Exception inner) =>
        new("charge", 3, null, ErrorInfo.FromException(inner, 2, permanent), permanent, inner);

    private sealed class PaymentDeclinedException : NonRetryableException
    {
        public PaymentDeclinedException() : base("declined") { }
    }

    private sealed class FakeDbException(bool isTransient) : DbException("database said no")
    {
        public override bool IsTransient { get; } = isTransient;
    }
}
