using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<IReadOnlyList<CreatedRun>> CreateRunsAsync(IReadOnlyList<NewRun> runs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand(_sql.CreateRuns);
        var parameters = command.Parameters;
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runs.Select(r => r.Id)] });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runs.Select(r => r.WorkflowName)] });
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.WorkflowVersion)] });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runs.Select(r => r.Queue)] });
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.Priority)] });
        parameters.Add(JsonbArray([.. runs.Select(r => r.InputJson)]));
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.CorrelationId)] });
        parameters.Add(JsonbArray([.. runs.Select(r => PostgresReaders.TagsToJson(r.Tags))]));
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.MaxAttempts)] });
        parameters.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = [.. runs.Select(r => r.ScheduledAt?.ToUniversalTime())] });
        parameters.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = [.. runs.Select(r => r.Delay ?? TimeSpan.Zero)] });
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. runs.Select(r => r.ClaimFor?.WorkerId)] });
        parameters.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = [.. runs.Select(r => r.ClaimFor?.LeaseDuration ?? TimeSpan.Zero)] });
        parameters.Add(Text(_sql.Channel));
        parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. runs.Select(r => r.MaxWorkerLosses)] });

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var created = new List<CreatedRun>(runs.Count);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            created.Add(new CreatedRun(
                reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt64(4),
                reader.GetBoolean(5)));
        }

        return created;
    }

    /// <inheritdoc/>
    public async Task<int> CreateRunBatchAsync(NewRunBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await using var command = _dataSource.CreateCommand(_sql.CreateRunBatch);
        var parameters = command.Parameters;
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. batch.Ids] });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = batch.InputsJson as string[] ?? [.. batch.InputsJson] });
        parameters.Add(Text(batch.WorkflowName));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.WorkflowVersion });
        parameters.Add(Text(batch.Queue));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.Priority });
        parameters.Add(Text(batch.CorrelationId));
        parameters.Add(Jsonb(PostgresReaders.TagsToJson(batch.Tags)));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.MaxAttempts });
        parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = batch.ScheduledAt is { } at ? at.ToUniversalTime() : DBNull.Value });
        parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = batch.Delay ?? TimeSpan.Zero });
        parameters.Add(Text(_sql.Channel));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = batch.MaxWorkerLosses });
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public async Task<RunInfo?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.GetRun);
        command.Parameters.Add(Text(runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? PostgresReaders.ReadRun(reader) : null;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunInfo>> GetFinishedRunsAsync(IReadOnlyCollection<string> runIds, CancellationToken cancellationToken = default)
    {
        if (runIds.Count == 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand(_sql.GetFinishedRuns);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. runIds] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadRunsAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        // One round trip: a batch is one implicit transaction, so the plan setting (local to the transaction)
        // holds for the listing and is gone after it.
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(RunListing.PlanForArguments));
        batch.BatchCommands.Add(RunListing.Command(Schema, query));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the plan setting's result
        return RunListing.Page(await ReadRunsAsync(reader, cancellationToken).ConfigureAwait(false), query.Limit);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StepInfo>> GetStepsAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.GetSteps);
        command.Parameters.Add(Text(runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var steps = new List<StepInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            steps.Add(PostgresReaders.ReadStep(reader));
        }

        return steps;
    }

    /// <inheritdoc/>
    public async Task<RunInfo?> RequestCancelAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        var cancel = new NpgsqlBatchCommand(_sql.RequestCancel);
        cancel.Parameters.Add(Text(runId));
        cancel.Parameters.Add(Text(_sql.Channel));
        var read = new NpgsqlBatchCommand(_sql.GetRun);
        read.Parameters.Add(Text(runId));
        batch.BatchCommands.Add(cancel);
        batch.BatchCommands.Add(read);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? PostgresReaders.ReadRun(reader) : null;
    }

    /// <inheritdoc/>
    public async Task<(bool Resumed, RunInfo? Run)> ResumeRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        var resume = new NpgsqlBatchCommand(_sql.ResumeRun);
        resume.Parameters.Add(Text(runId));
        resume.Parameters.Add(Text(_sql.Channel));
        var read = new NpgsqlBatchCommand(_sql.GetRun);
        read.Parameters.Add(Text(runId));
        batch.BatchCommands.Add(resume);
        batch.BatchCommands.Add(read);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var resumed = reader.GetInt64(0) > 0;
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var run = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? PostgresReaders.ReadRun(reader) : null;
        return (resumed, run);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunHistoryEntry>> GetHistoryAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.GetHistory);
        command.Parameters.Add(Text(runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var history = new List<RunHistoryEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            history.Add(PostgresReaders.ReadHistory(reader));
        }

        return history;
    }

    /// <inheritdoc/>
    public async Task RegisterDefinitionsAsync(IReadOnlyCollection<DefinitionRecord> definitions, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.RegisterDefinitions);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. definitions.Select(d => d.Name)] });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. definitions.Select(d => d.Version)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. definitions.Select(d => d.InputType)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. definitions.Select(d => d.OutputType)] });
        command.Parameters.Add(new NpgsqlParameter<int?[]> { TypedValue = [.. definitions.Select(d => d.MaxWorkerLosses)] });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<DefinitionRecord>> GetDefinitionsAsync(string workflowName, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.GetDefinitions);
        command.Parameters.Add(Text(workflowName));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var definitions = new List<DefinitionRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            definitions.Add(new DefinitionRecord(
                reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4)));
        }

        return definitions;
    }

    /// <summary>The rows of the reader's current result, as runs.</summary>
    private static async Task<List<RunInfo>> ReadRunsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var runs = new List<RunInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            runs.Add(PostgresReaders.ReadRun(reader));
        }

        return runs;
    }

    internal static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    internal static NpgsqlParameter Jsonb(string? json) => new() { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = json is null ? DBNull.Value : json };
}
