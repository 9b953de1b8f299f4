using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Trellis.Tests;

public class ErrorInfoTests
{
    [Fact]
    public void FromException_KeepsFullTypeNameMessageStackAndAttempt()
    {
        var exception = Thrown(() => throw new InvalidOperationException("the order is gone"));

        var info = ErrorInfo.FromException(exception, 3);

        Assert.Equal("System.InvalidOperationException", info.Type);
        Assert.Equal("the order is gone", info.Message);
        Assert.Equal(exception.ToString(), info.StackTrace);
        Assert.Contains(nameof(Thrown), info.StackTrace, StringComparison.Ordinal);
        Assert.Equal(3, info.Attempt);
        Assert.False(info.Permanent);
    }

    [Fact]
    public void FromException_NestedType_KeepsFullName()
    {
        var info = ErrorInfo.FromException(new CustomFailureException("x"), 1, permanent: true);

        Assert.Equal(typeof(CustomFailureException).FullName, info.Type);
        Assert.Contains("ErrorInfoTests+CustomFailureException", info.Type, StringComparison.Ordinal);
        Assert.True(info.Permanent);
    }

    [Fact]
    public void FromException_InnerException_AppearsInStack()
    {
        var exception = new InvalidOperationException("outer", new TimeoutException("inner cause"));

        var info = ErrorInfo.FromException(exception, 1);

        Assert.Contains("inner cause", info.StackTrace, StringComparison.Ordinal);
        Assert.Contains("System.TimeoutException", info.StackTrace, StringComparison.Ordinal);
    }

    [Fact]
    public void FromException_MessageWithNul_IsStoredWithoutNul()
    {
        var exception = new InvalidOperationException("bad\0byte");

        var info = ErrorInfo.FromException(exception, 1);

        Assert.DoesNotContain('\0', info.Message);
        Assert.DoesNotContain('\0', info.StackTrace!);
        Assert.StartsWith("bad", info.Message, StringComparison.Ordinal);
        Assert.EndsWith("byte", info.Message, StringComparison.Ordinal);
        var json = JsonSerializer.Serialize(info);
        Assert.DoesNotContain("\\u0000", json, StringComparison.Ordinal);
    }

    [Fact]
    public void FromException_Null_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => ErrorInfo.FromException(null!, 1));
    }

    [Fact]
    public void Serialize_UsesShortLowercasePropertyNames()
    {
        var info = new ErrorInfo("System.TimeoutException", "slow", "at X", 2) { Permanent = true };

        using var document = JsonDocument.Parse(JsonSerializer.Serialize(info));
        var names = document.RootElement.EnumerateObject().Select(p => p.Name).OrderBy(n => n, StringComparer.Ordinal).ToList();

        Assert.Equal(["attempt", "message", "permanent", "stack", "type"], names);
        Assert.Equal("System.TimeoutException", document.RootElement.GetProperty("type").GetString());
        Assert.Equal("slow", document.RootElement.GetProperty("message").GetString());
        Assert.Equal("at X", document.RootElement.GetProperty("stack").GetString());
        Assert.Equal(2, document.RootElement.GetProperty("attempt").GetInt32());
        Assert.True(document.RootElement.GetProperty("permanent").GetBoolean());
    }

    [Fact]
    public void Serialize_RoundTrips()
    {
        var original = ErrorInfo.FromException(Thrown(() => throw new IOException("disk")), 4, permanent: true);

        var copy = JsonSerializer.Deserialize<ErrorInfo>(JsonSerializer.Serialize(original));

        Assert.Equal(original, copy);
    }

    [Fact]
    public void Serialize_WithWebDefaults_KeepsSameNamesAndRoundTrips()
    {
        var original = new ErrorInfo("T", "m", null, 1);
        var serializer = new TrellisSerializer();

        var json = serializer.Serialize(original);
        var copy = serializer.Deserialize<ErrorInfo>(json);

        Assert.Contains("\"stack\":null", json, StringComparison.Ordinal);
        Assert.Equal(original, copy);
    }

    [Fact]
    public void Deserialize_StoredJson_ReadsAllFields()
    {
        const string stored = """{"type":"System.IO.IOException","message":"disk","stack":"trace","attempt":2,"permanent":false}""";

        var info = JsonSerializer.Deserialize<ErrorInfo>(stored)!;

        Assert.Equal(new ErrorInfo("System.IO.IOException", "disk", "trace", 2), info);
    }

    [Fact]
    public void ToString_ShowsTypeMessageAndAttempt()
    {
        Assert.Equal("System.TimeoutException: slow (attempt 2)", new ErrorInfo("System.TimeoutException", "slow", null, 2).ToString());
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Exception Thrown(Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            return ex;
        }

        throw new InvalidOperationException("did not throw");
    }

    private sealed class CustomFailureException(string message) : Exception(message);
}
