using Npgsql;
using NpgsqlTypes;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <summary>
    /// Writes a checkpoint batch as one <see cref="NpgsqlBatch"/>: at most three statements (steps,
    /// progress, run outcomes), each taking all of its rows as arrays through <c>unnest</c>, sent in one
    /// round trip and committed as one implicit transaction.
    /// </summary>
    public async Task CommitAsync(CheckpointBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        await using var command = _dataSource.CreateBatch();
        if (batch.Steps.Count > 0)
        {
            command.BatchCommands.Add(StepsCommand(batch.Steps));
        }

        if (batch.Progress.Count > 0)
        {
            command.BatchCommands.Add(ProgressCommand(batch.Progress));
        }

        if (batch.Finishes.Count > 0)
        {
            command.BatchCommands.Add(FinishCommand(batch.Finishes));
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (batch.Steps.Count > 0)
        {
            var written = new HashSet<(string, int, int)>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                written.Add((reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? -1 : reader.GetInt32(2)));
            }

            foreach (var step in batch.Steps)
            {
                step.Applied = written.Contains(step.Key);
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }

        if (batch.Progress.Count > 0)
        {
            await MarkAppliedAsync(reader, batch.Progress, cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }

        if (batch.Finishes.Count > 0)
        {
            await MarkFinishesAppliedAsync(reader, batch.Finishes, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Marks the outcomes written, and those written as a cancellation because a cancel came first.</summary>
    private static async Task MarkFinishesAppliedAsync(NpgsqlDataReader reader, List<RunFinish> finishes, CancellationToken cancellationToken)
    {
        var written = new Dictionary<string, string>(finishes.Count, StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            written[reader.GetString(0)] = reader.GetString(1);
        }

        foreach (var finish in finishes)
        {
            finish.Applied = written.TryGetValue(finish.RunId, out var status);
            finish.CancelledInstead = finish.Applied && finish.Kind != RunFinishKind.Cancelled && status == "cancelled";
        }
    }

    private NpgsqlBatchCommand StepsCommand(List<StepWrite> steps)
    {
        var count = steps.Count;
        var runIds = new string[count];
        var epochs = new long[count];
        var sequences = new int[count];
        var items = new int?[count];
        var names = new string[count];
        var statuses = new string[count];
        var results = new string?[count];
        var errors = new string?[count];
        var newErrors = new string?[count];
        var attempts = new int[count];
        var startedAt = new DateTimeOffset[count];
        var completedAt = new DateTimeOffset?[count];
        for (var i = 0; i < count; i++)
        {
            var step = steps[i];
            runIds[i] = step.RunId;
            epochs[i] = step.Epoch;
            sequences[i] = step.Sequence;
            items[i] = step.ItemIndex;
            names[i] = step.Name;
            statuses[i] = step.Status.ToText();
            results[i] = step.ResultJson;
            errors[i] = step.ErrorJson;
            newErrors[i] = step.NewErrorsJson.Count == 0 ? null : $"[{string.Join(',', step.NewErrorsJson)}]";
            attempts[i] = step.Attempts;
            startedAt[i] = step.StartedAt.ToUniversalTime();
            completedAt[i] = step.CompletedAt?.ToUniversalTime();
        }

        var command = new NpgsqlBatchCommand(_sql.WriteSteps);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<string[]> { TypedValue = runIds });
        p.Add(new NpgsqlParameter<long[]> { TypedValue = epochs });
        p.Add(new NpgsqlParameter<int[]> { TypedValue = sequences });
        p.Add(new NpgsqlParameter<int?[]> { TypedValue = items });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = names });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = statuses });
        p.Add(JsonbArray(results));
        p.Add(JsonbArray(errors));
        p.Add(JsonbArray(newErrors));
        p.Add(new NpgsqlParameter<int[]> { TypedValue = attempts });
        p.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = startedAt });
        p.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = completedAt });
        return command;
    }

    private NpgsqlBatchCommand ProgressCommand(List<ProgressWrite> progress)
    {
        var command = new NpgsqlBatchCommand(_sql.WriteProgress);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. progress.Select(w => w.RunId)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. progress.Select(w => w.Epoch)] });
        command.Parameters.Add(new NpgsqlParameter<double[]> { TypedValue = [.. progress.Select(w => w.Percent)] });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. progress.Select(w => w.Message)] });
        return command;
    }

    private NpgsqlBatchCommand FinishCommand(List<RunFinish> finishes)
    {
        var command = new NpgsqlBatchCommand(_sql.FinishRuns);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. finishes.Select(f => f.RunId)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. finishes.Select(f => f.Epoch)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. finishes.Select(f => KindText(f.Kind))] });
        command.Parameters.Add(JsonbArray([.. finishes.Select(f => f.OutputJson)]));
        command.Parameters.Add(JsonbArray([.. finishes.Select(f => f.ErrorJson)]));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan[]> { TypedValue = [.. finishes.Select(f => f.RetryDelay)] });
        command.Parameters.Add(new NpgsqlParameter<int?[]> { TypedValue = [.. finishes.Select(f => f.ResetStepSequence)] });
        command.Parameters.Add(Text(_sql.Channel));
        return command;
    }

    private static async Task MarkAppliedAsync(NpgsqlDataReader reader, IEnumerable<CheckpointWrite> writes, CancellationToken cancellationToken)
    {
        var applied = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            applied.Add(reader.GetString(0));
        }

        foreach (var write in writes)
        {
            write.Applied = applied.Contains(write.RunId);
        }
    }

    /// <summary>The text the outcome statements match on (no allocation per run, unlike <c>ToString()</c>).</summary>
    private static string KindText(RunFinishKind kind) => kind switch
    {
        RunFinishKind.Completed => "completed",
        RunFinishKind.Failed => "failed",
        RunFinishKind.Cancelled => "cancelled",
        RunFinishKind.Retry => "retry",
        RunFinishKind.Release => "release",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    internal static NpgsqlParameter JsonbArray(string?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = values };
}
