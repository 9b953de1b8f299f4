using Npgsql;
using Trellis.Storage;

namespace Trellis.Postgres;

public sealed partial class PostgresStore
{
    /// <inheritdoc/>
    public async Task<ChildrenWaitOutcome> WaitForChildrenAsync(ChildrenWait wait, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wait);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        int unfinished;
        await using (var mark = new NpgsqlCommand(_sql.Children.MarkAwaited, connection, transaction))
        {
            mark.Parameters.Add(Text(wait.ParentRunId));
            mark.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. wait.ChildIds] });
            mark.Parameters.Add(Text(_sql.Channel));
            unfinished = Convert.ToInt32(await mark.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        if (unfinished == 0)
        {
            var finished = new List<ChildOutcome>();
            await using (var read = new NpgsqlCommand(_sql.Children.FinishedChildren, connection, transaction))
            {
                read.Parameters.Add(Text(wait.ParentRunId));
                await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    finished.Add(new ChildOutcome(
                        reader.GetString(0), reader.GetString(1), StatusText.ParseRunStatus(reader.GetString(2)),
                        reader.IsDBNull(3) ? null : reader.GetString(3), PostgresReaders.ReadError(reader.IsDBNull(4) ? null : reader.GetString(4))));
                }
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new ChildrenWaitOutcome(ChildrenWaitState.Finished, finished);
        }

        // The children are marked in this transaction, before the parent waits: each one that finishes after the
        // commit counts the parent down (the trigger of migration 013), and none finished unseen in between, since
        // marking one waits for the transaction that finishes it.
        var finish = new RunFinish
        {
            RunId = wait.ParentRunId,
            Epoch = wait.Epoch,
            Kind = RunFinishKind.Suspend,
            WaitReason = unfinished == 1 ? "a child run" : $"{unfinished} child runs",
        };
        await using var suspend = new NpgsqlBatch(connection, transaction);
        suspend.BatchCommands.Add(FinishCommand([finish], workerId: null));
        var count = new NpgsqlBatchCommand(_sql.Children.SetAwaited);
        count.Parameters.Add(Text(wait.ParentRunId));
        count.Parameters.Add(new NpgsqlParameter<int> { TypedValue = unfinished });
        suspend.BatchCommands.Add(count);
        bool applied;
        await using (var reader = await suspend.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            applied = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!applied)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return new ChildrenWaitOutcome(ChildrenWaitState.NotHeld, []);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new ChildrenWaitOutcome(ChildrenWaitState.Waiting, []);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunInfo>> GetChildrenAsync(string parentRunId, CancellationToken cancellationToken = default)
    {
        Names.CheckRunId(parentRunId, nameof(parentRunId));
        await using var command = _dataSource.CreateCommand(_sql.Children.GetChildren);
        command.Parameters.Add(Text(parentRunId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var children = new List<RunInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            children.Add(PostgresReaders.ReadRun(reader));
        }

        return children;
    }
}

/// <summary>The statements of <c>PostgresStore.Children.cs</c>: the runs other runs started, and their parents' waits for them.</summary>
internal sealed class ChildSql(string s)
{
    /// <summary>
    /// Marks the unfinished children among $2 of parent $1 as waited for; returns how many there are. The marked rows are
    /// locked until the commit, so a claim meanwhile skips the pending ones and comes back short, as if the queue were
    /// empty: their queues are told (channel $3) to look again once the commit has released them.
    /// </summary>
    public string MarkAwaited { get; } = $"""
        WITH marked AS (
            UPDATE {s}.runs c SET parent_waits = true
            WHERE c.id = ANY($2::text[]) AND c.parent_id = $1 AND c.status NOT IN {Sql.FinishedStatuses}
            RETURNING c.queue, c.status
        ), notified AS (
            SELECT pg_notify($3, 'w:' || queue) FROM (SELECT DISTINCT queue FROM marked WHERE status = {Sql.Pending}) q
        )
        SELECT count(*) + 0 * (SELECT count(*) FROM notified) FROM marked
        """;

    /// <summary>The number of children parent $1 now waits for (set after it went waiting; the trigger counts it down).</summary>
    public string SetAwaited { get; } = $"UPDATE {s}.runs SET children_awaited = $2 WHERE id = $1";

    /// <summary>Every finished child of parent $1, with its end.</summary>
    public string FinishedChildren { get; } = $"""
        SELECT id, workflow_name, status, output::text, error::text FROM {s}.runs
        WHERE parent_id = $1 AND status IN {Sql.FinishedStatuses}
        """;

    /// <summary>
    /// The children of $1 in the order they were started: by creation, and within one start (one statement, one
    /// creation time) by their index, which ends their ids, all of the same length but for the digits of the index.
    /// </summary>
    public string GetChildren { get; } = $"""
        SELECT {Sql.RunColumns("r")} FROM {s}.runs r
        WHERE r.parent_id = $1
        ORDER BY r.created_at, length(r.id), r.id
        """;
}
