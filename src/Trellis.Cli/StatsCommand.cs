using System.CommandLine;
using Spectre.Console;
using Trellis.Server;

namespace Trellis.Cli;

/// <summary><c>trellis stats</c>: runs by workflow and status, table sizes, slow statements.</summary>
internal static class StatsCommand
{
    public static Command Create()
    {
        var window = Cli.WindowOption();
        var command = new Command("stats", "Live runs and recently finished ones by workflow and status, each table's size, the slowest statements.") { window };
        command.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            var span = Cli.Window(parse, window);
            var stats = await client.GetStatisticsAsync(span, ct);
            if (context.AsJson)
            {
                Cli.WriteJson(stats);
                return ExitCodes.Ok;
            }

            var runs = new Table().Title($"Runs: live now, and finished of those created since {Cli.Time(stats.Since)} UTC").AddColumns("Workflow", "Status", "Runs");
            foreach (var count in stats.LiveRuns.Concat(stats.FinishedRuns))
            {
                runs.AddRow(Markup.Escape(count.Workflow), Cli.Status(count.Status), $"{count.Count:N0}");
            }

            AnsiConsole.Write(runs);
            var tables = new Table().Title("Tables").AddColumns("Table", "Size", "Rows (estimate)");
            foreach (var table in stats.Tables)
            {
                tables.AddRow(Markup.Escape(table.Table), $"{table.Bytes / 1024.0 / 1024.0:N1} MB", $"{table.EstimatedRows:N0}");
            }

            AnsiConsole.Write(tables);
            if (stats.SlowStatementsNote is { } note)
            {
                AnsiConsole.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
            }
            else
            {
                var slow = new Table().Title("Slowest statements (pg_stat_statements)").AddColumns("Mean", "Calls", "Statement");
                foreach (var statement in stats.SlowStatements)
                {
                    slow.AddRow($"{statement.MeanMs:N2} ms", $"{statement.Calls:N0}", Cli.Short(statement.Query.ReplaceLineEndings(" "), 100));
                }

                AnsiConsole.Write(slow);
            }

            AnsiConsole.MarkupLine($"[grey]Made at {Cli.Time(stats.At)} UTC.[/]");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }
}
