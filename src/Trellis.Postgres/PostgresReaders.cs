using System.Text.Json;
using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

/// <summary>Reads rows into the core's records; column order follows <see cref="PostgresSql"/>.</summary>
internal static class PostgresReaders
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static RunInfo ReadRun(NpgsqlDataReader reader) => new()
    {
        Id = reader.GetString(0),
        WorkflowName = reader.GetString(1),
        WorkflowVersion = reader.GetInt32(2),
        Status = StatusText.ParseRunStatus(reader.GetString(3)),
        Queue = reader.GetString(4),
        Priority = reader.GetInt32(5),
        InputJson = NullableString(reader, 6),
        OutputJson = NullableString(reader, 7),
        Error = ReadError(NullableString(reader, 8)),
        CorrelationId = NullableString(reader, 9),
        Tags = ReadTags(reader.GetString(10)),
        ProgressPercent = reader.IsDBNull(11) ? null : reader.GetDouble(11),
        ProgressMessage = NullableString(reader, 12),
        Attempt = reader.GetInt32(13),
        MaxAttempts = reader.GetInt32(14),
        Epoch = reader.GetInt64(15),
        LockedBy = NullableString(reader, 16),
        LeaseExpiresAt = NullableTime(reader, 17),
        CancelRequested = reader.GetBoolean(18),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(19),
        ScheduledAt = reader.GetFieldValue<DateTimeOffset>(20),
        StartedAt = NullableTime(reader, 21),
        UpdatedAt = reader.GetFieldValue<DateTimeOffset>(22),
        CompletedAt = NullableTime(reader, 23),
        WorkerLosses = reader.GetInt32(24),
        MaxWorkerLosses = reader.GetInt32(25),
        WaitReason = NullableString(reader, 26),
        ParentRunId = NullableString(reader, 27),
        ForkedFromRunId = NullableString(reader, 28),
        ForkedAtStep = reader.IsDBNull(29) ? null : reader.GetInt32(29),
    };

    public static StepInfo ReadStep(NpgsqlDataReader reader) => new()
    {
        RunId = reader.GetString(0),
        Sequence = reader.GetInt32(1),
        ItemIndex = reader.IsDBNull(2) ? null : reader.GetInt32(2),
        Name = reader.GetString(3),
        Status = StatusText.ParseStepStatus(reader.GetString(4)),
        ResultJson = NullableString(reader, 5),
        Error = ReadError(NullableString(reader, 6)),
        AttemptErrors = NullableString(reader, 7) is { } errors ? JsonSerializer.Deserialize<List<ErrorInfo>>(errors, Json) ?? [] : [],
        Attempts = reader.GetInt32(8),
        Epoch = reader.GetInt64(9),
        StartedAt = NullableTime(reader, 10),
        CompletedAt = NullableTime(reader, 11),
    };

    public static ClaimedRun ReadClaim(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetInt32(2),
        NullableString(reader, 3),
        reader.GetInt64(4),
        reader.GetInt32(5),
        reader.GetInt32(6),
        reader.GetBoolean(7),
        NullableString(reader, 8),
        ReadTags(reader.GetString(9)),
        reader.GetBoolean(10),
        reader.GetFieldValue<DateTimeOffset>(11),
        reader.IsDBNull(12) ? null : reader.GetFieldValue<TimeSpan>(12),
        NullableString(reader, 13),
        NullableString(reader, 14));

    public static RunHistoryEntry ReadHistory(NpgsqlDataReader reader) => new()
    {
        Id = reader.IsDBNull(0) ? null : reader.GetInt64(0),
        RunId = reader.GetString(1),
        At = reader.GetFieldValue<DateTimeOffset>(2),
        Event = reader.GetString(3),
        WorkerId = NullableString(reader, 4),
        Epoch = reader.IsDBNull(5) ? null : reader.GetInt64(5),
        Attempt = reader.IsDBNull(6) ? null : reader.GetInt32(6),
        DetailJson = NullableString(reader, 7),
    };

    public static string TagsToJson(IReadOnlyDictionary<string, string> tags) => JsonSerializer.Serialize(tags, Json);

    private static IReadOnlyDictionary<string, string> ReadTags(string json) =>
        json == "{}" ? RunInfo.EmptyTags : JsonSerializer.Deserialize<Dictionary<string, string>>(json, Json) ?? RunInfo.EmptyTags;

    public static ErrorInfo? ReadError(string? json) => json is null ? null : JsonSerializer.Deserialize<ErrorInfo>(json, Json);

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? NullableTime(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
