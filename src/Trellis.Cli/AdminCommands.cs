using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using Trellis.Postgres;

namespace Trellis.Cli;

/// <summary><c>trellis migrate</c>, <c>trellis status</c> and <c>trellis events publish</c>.</summary>
internal static class AdminCommands
{
    public static Command Migrate()
    {
        var command = new Command("migrate", "Create or update Trellis's schema (safe to run from many processes at once).");
        command.SetAction((parse, ct) => Cli.WithContextAsync(parse, async context =>
        {
            await using var store = Store(context);
            if (context.AsJson)
            {
                await store.MigrateAsync(ct);
            }
            else
            {
                await AnsiConsole.Status().StartAsync($"Migrating {Markup.Escape(store.Description)}…", _ => store.MigrateAsync(ct));
            }

            var version = await store.CheckHealthAsync(ct);
            if (context.AsJson)
            {
                Cli.WriteJson(new { schema = store.Schema.Name, version });
            }
            else
            {
                AnsiConsole.MarkupLine($"Schema [bold]{Markup.Escape(store.Schema.Name)}[/] is at migration {version}.");
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    public static Command Status()
    {
        var command = new Command("status", "Whether the database is reachable and its schema migrated, and the live workers.");
        command.SetAction((parse, ct) => Cli.WithContextAsync(parse, async context =>
        {
            await using var store = Store(context);
            var version = await store.CheckHealthAsync(ct);
            var workers = await store.GetLiveWorkersAsync(new WorkerOptions().WorkerHeartbeatInterval * 3, ct);
            if (context.AsJson)
            {
                Cli.WriteJson(new { database = store.Description, schema = store.Schema.Name, version, healthy = true, workers });
            }
            else
            {
                AnsiConsole.MarkupLine($"[green]Healthy[/]: {Markup.Escape(store.Description)}, at migration {version}.");
                var table = new Table().Title("Live workers").AddColumns("Worker", "Host", "Queues", "Runs / slots", "Last heartbeat (UTC)");
                foreach (var worker in workers)
                {
                    table.AddRow(Markup.Escape(worker.WorkerId), Markup.Escape(worker.Host), Markup.Escape(string.Join(", ", worker.Queues)),
                        $"{worker.RunsInFlight} / {worker.Slots}", Cli.Time(worker.HeartbeatAt));
                }

                AnsiConsole.Write(table);
                AnsiConsole.MarkupLine(workers.Count == 0 ? "No live worker." : $"{workers.Count} live worker(s).");
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    public static Command Events()
    {
        var name = new Argument<string>("name") { Description = "The event's name." };
        var key = new Argument<string>("key") { Description = "The event's key (an order id, say)." };
        var data = new Option<string?>("--data") { Description = "The event's data, as JSON (\"paid\" with its quotes, 42, {\"amount\": 5})." };
        var publish = new Command("publish", "Publish an event: every run waiting for its name and key receives it.") { name, key, data };
        publish.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            JsonNode? payload = null;
            if (parse.GetValue(data) is { } json)
            {
                payload = JsonNode.Parse(json) ?? throw new ArgumentException("--data must be JSON.");
            }

            var delivered = await client.PublishEventAsync(parse.GetValue(name)!, parse.GetValue(key)!, payload, ct);
            if (context.AsJson)
            {
                Cli.WriteJson(new { published = 1, delivered });
            }
            else
            {
                AnsiConsole.MarkupLine($"Published; {delivered} waiting run(s) received it now.");
            }

            return ExitCodes.Ok;
        }, ct));
        var events = new Command("events", "Publish events.");
        events.Subcommands.Add(publish);
        return events;
    }

    private static PostgresStore Store(CliContext context) =>
        new(new PostgresStoreOptions
        {
            ConnectionString = context.ConnectionString,
            Schema = context.SchemaName,
            ReadEnvironment = false,
        });
}
