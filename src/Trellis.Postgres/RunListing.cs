using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Trellis.Postgres;

/// <summary>
/// The statement behind <see cref="PostgresStore.ListRunsAsync"/>: runs matching a <see cref="RunQuery"/>,
/// newest first, one page at a time with a keyset cursor (creation time, id).
/// </summary>
/// <remarks>
/// Live runs (pending, running) and finished ones are indexed apart (migration 003): a run is entered in the
/// finished runs' listing indexes once, when it finishes, rather than on every state change. A listing
/// therefore reads the newest matching live runs and the newest matching finished runs, each from its own
/// index, and merges them; a status filter needs only one of the two.
/// </remarks>
internal static class RunListing
{
    /// <summary>
    /// Sent before the listing in the same batch, which PostgreSQL runs as one implicit transaction: a listing
    /// combines any filters with any values (a rare tag, a common status), so it is planned for its arguments,
    /// unlike the statements Trellis keeps one generic plan for (<see cref="PostgresStore.SessionSetup"/>). The
    /// setting is local to that transaction; the connection goes back to the pool with its own.
    /// </summary>
    public const string PlanForArguments = "SELECT set_config('plan_cache_mode', 'auto', true)";

    public static NpgsqlBatchCommand Command(SchemaName schema, RunQuery query)
    {
        var command = new NpgsqlBatchCommand();
        var filters = new StringBuilder();
        void Filter(string condition, NpgsqlParameter parameter)
        {
            command.Parameters.Add(parameter);
            filters.Append(" AND ").Append(condition.Replace("?", $"${command.Parameters.Count}", StringComparison.Ordinal));
        }

        if (query.Status is { } status)
        {
            Filter("r.status = ?", PostgresStore.Text(status.ToText()));
        }

        if (query.WorkflowName is { } workflow)
        {
            Filter("r.workflow_name = ?", PostgresStore.Text(workflow));
        }

        if (query.Queue is { } queue)
        {
            Filter("r.queue = ?", PostgresStore.Text(queue));
        }

        if (query.CorrelationId is { } correlation)
        {
            Filter("r.correlation_id = ?", PostgresStore.Text(correlation));
        }

        if (query.Tag is { } tag)
        {
            // "tags <> '{}'" lets the planner use the tag index, which leaves out runs without tags.
            Filter("r.tags <> '{}' AND r.tags @> ?", PostgresStore.Jsonb(PostgresReaders.TagsToJson(new Dictionary<string, string> { [tag.Key] = tag.Value })));
        }

        if (query.CreatedAfter is { } after)
        {
            Filter("r.created_at >= ?", Time(after));
        }

        if (query.CreatedBefore is { } before)
        {
            Filter("r.created_at < ?", Time(before));
        }

        if (query.Cursor is { } cursor)
        {
            var (createdAt, id) = DecodeCursor(cursor);
            command.Parameters.Add(Time(createdAt));
            command.Parameters.Add(PostgresStore.Text(id));
            filters.Append(CultureInfo.InvariantCulture, $" AND (r.created_at, r.id) < (${command.Parameters.Count - 1}, ${command.Parameters.Count})");
        }

        // One row more than the page, to know whether there is a next page.
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = query.Limit + 1 });
        var limit = $"ORDER BY r.created_at DESC, r.id DESC LIMIT ${command.Parameters.Count}";
        string Part(string state) => $"SELECT {Sql.RunColumns("r")} FROM {schema.Quoted}.runs r WHERE r.completed_at {state}{filters} {limit}";

        // completed_at is set exactly for finished runs (constraint runs_finished_have_completed_at).
        command.CommandText = query.Status switch
        {
            { } live when !live.IsTerminal() => Part("IS NULL"),
            not null => Part("IS NOT NULL"),
            null => $"SELECT * FROM (({Part("IS NULL")}) UNION ALL ({Part("IS NOT NULL")})) r {limit}",
        };
        return command;
    }

    /// <summary>The page's runs (at most <see cref="RunQuery.Limit"/>) and the cursor of the next page, if any.</summary>
    public static RunPage Page(List<RunInfo> rows, int limit)
    {
        if (rows.Count <= limit)
        {
            return new RunPage(rows, null);
        }

        var page = rows.GetRange(0, limit);
        return new RunPage(page, EncodeCursor(page[^1].CreatedAt, page[^1].Id));
    }

    private static string EncodeCursor(DateTimeOffset createdAt, string id)
    {
        var microseconds = (createdAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        return Convert.ToBase64String(Encoding.UTF8.GetBytes($"{microseconds.ToString(CultureInfo.InvariantCulture)}|{id}"))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static (DateTimeOffset CreatedAt, string Id) DecodeCursor(string cursor)
    {
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - base64.Length % 4) % 4);
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            var microseconds = long.Parse(text[..bar], CultureInfo.InvariantCulture);
            return (DateTimeOffset.UnixEpoch.AddTicks(microseconds * 10), text[(bar + 1)..]);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
        {
            throw new ArgumentException("The cursor is not one this store returned.", nameof(cursor), ex);
        }
    }

    private static NpgsqlParameter Time(DateTimeOffset value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = value.ToUniversalTime() };
}
