using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunHistoryEntry>> GetHistoryAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(_sql.History.GetHistory);
        command.Parameters.Add(Text(runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var history = new List<RunHistoryEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            history.Add(PostgresReaders.ReadHistory(reader));
        }

        return history;
    }
}

/// <summary>The statements of <c>PostgresStore.History.cs</c>: a run's history, from the history table, runs and steps.</summary>
internal sealed class HistorySql
{
    public HistorySql(string s)
    {
        // The history table's rows, and the events runs and steps hold already: the run's creation, and each step's
        // start, failed attempts and completion (on the worker's clock; not the rows a fork copied, of epoch 0). A row without a worker takes the worker of
        // the claim whose epoch it names. Ties keep the order a run goes through.
        var workerOfEpoch = $"(SELECT c.worker_id FROM {s}.history c WHERE c.run_id = $1 AND c.epoch = {{0}} AND c.event = '{RunHistoryEvents.Claimed}' ORDER BY c.id LIMIT 1)";
        var step = "'seq', st.seq, 'item', st.item_index, 'name', st.name";
        GetHistory = $"""
            SELECT id, run_id, at, event, worker_id, epoch, attempt, detail FROM (
                SELECT h.id, h.run_id, h.at, h.event, coalesce(h.worker_id, {string.Format(System.Globalization.CultureInfo.InvariantCulture, workerOfEpoch, "h.epoch")}) AS worker_id,
                       h.epoch, h.attempt, h.detail, 1 AS rank
                FROM {s}.history h WHERE h.run_id = $1
                UNION ALL
                SELECT NULL, h.run_id, (h.detail ->> '{Sql.ClaimedAtKey}')::timestamptz, '{RunHistoryEvents.Claimed}', h.worker_id, h.epoch,
                       (h.detail ->> 'claimed_attempt')::int, NULL, 1
                FROM {s}.history h WHERE h.run_id = $1 AND h.detail ? '{Sql.ClaimedAtKey}'
                UNION ALL
                SELECT NULL, r.id, r.created_at, '{RunHistoryEvents.Created}', NULL, NULL, NULL, NULL, 0 FROM {s}.runs r WHERE r.id = $1
                UNION ALL
                SELECT NULL, st.run_id, st.started_at, '{RunHistoryEvents.StepStarted}', {string.Format(System.Globalization.CultureInfo.InvariantCulture, workerOfEpoch, "st.epoch")},
                       st.epoch, NULL, jsonb_build_object({step}), 2
                FROM {s}.steps st WHERE st.run_id = $1 AND st.epoch > 0
                UNION ALL
                SELECT NULL, st.run_id, coalesce((e.error ->> 'at')::timestamptz, st.completed_at, st.started_at), '{RunHistoryEvents.StepFailed}',
                       {string.Format(System.Globalization.CultureInfo.InvariantCulture, workerOfEpoch, "st.epoch")}, st.epoch, (e.error ->> 'attempt')::int,
                       jsonb_build_object({step}, 'error', e.error), 3
                FROM {s}.steps st CROSS JOIN LATERAL jsonb_array_elements(coalesce(st.attempt_errors, '[]'::jsonb)) AS e(error)
                WHERE st.run_id = $1 AND st.epoch > 0
                UNION ALL
                SELECT NULL, st.run_id, st.completed_at, '{RunHistoryEvents.StepCompleted}', {string.Format(System.Globalization.CultureInfo.InvariantCulture, workerOfEpoch, "st.epoch")},
                       st.epoch, st.attempts, jsonb_build_object({step}), 4
                FROM {s}.steps st WHERE st.run_id = $1 AND st.epoch > 0 AND st.status = {Sql.Completed}
            ) events
            ORDER BY at, rank, id
            """;
    }

    public string GetHistory { get; }
}
