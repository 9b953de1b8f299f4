namespace Trellis.Tests;

public sealed class NamesTests
{
    [Theory]
    [InlineData("order-42")]
    [InlineData("0194f3a2-7c1e-7abc-9def-0123456789ab")]
    [InlineData("a b")] // inner spaces are fine
    [InlineData("ü-ñ-漢")]
    public void IsValidRunId_Accepts(string runId) => Assert.True(Names.IsValidRunId(runId));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" padded")]
    [InlineData("padded ")]
    [InlineData("nul\0char")]
    [InlineData("line\nbreak")]
    public void IsValidRunId_Refuses(string? runId) => Assert.False(Names.IsValidRunId(runId));

    [Fact]
    public void IsValidRunId_RefusesOver255Characters()
    {
        Assert.True(Names.IsValidRunId(new string('x', 255)));
        Assert.False(Names.IsValidRunId(new string('x', 256)));
    }

    [Fact]
    public void CheckRunId_SaysWhatIsAllowed_WithTheBadCharacterEscaped()
    {
        var ex = Assert.Throws<ArgumentException>(() => Names.CheckRunId("nul\0char", "runId"));

        Assert.Equal("runId", ex.ParamName);
        Assert.Contains("nul\\u0000char", ex.Message, StringComparison.Ordinal);
        Assert.Contains("1–255 characters", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("emails.high-priority")]
    [InlineData("tenant:42/video_encode")]
    [InlineData("9lives")]
    public void IsValidQueue_Accepts(string queue) => Assert.True(Names.IsValidQueue(queue));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("my queue; drop")]
    [InlineData("-leading-dash")]
    [InlineData("tab\tqueue")]
    [InlineData("quote'")]
    public void IsValidQueue_Refuses(string? queue) => Assert.False(Names.IsValidQueue(queue));

    [Fact]
    public void CheckQueue_NamesTheSettingItChecks()
    {
        var ex = Assert.Throws<ArgumentException>(() => Names.CheckQueue("my queue; drop", "StartOptions.Queue"));

        Assert.StartsWith("StartOptions.Queue: 'my queue; drop' is not a queue name", ex.Message, StringComparison.Ordinal);
    }
}
