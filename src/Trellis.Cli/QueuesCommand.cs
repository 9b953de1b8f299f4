using System.CommandLine;
using Spectre.Console;
using Trellis.Server;

namespace Trellis.Cli;

/// <summary><c>trellis queues</c>: each queue's depth, live runs, recently finished runs and the workers serving it.</summary>
internal static class QueuesCommand
{
    public static Command Create()
    {
        var window = Cli.WindowOption();
        var command = new Command("queues", "Each queue: ready runs (its depth) and how long the oldest has waited, scheduled, running and waiting runs, finished runs, live workers.") { window };
        command.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            var span = Cli.Window(parse, window);
            var report = await client.GetQueueReportAsync(span, ct);
            if (context.AsJson)
            {
                Cli.WriteJson(QueueReportView.Of(report));
                return ExitCodes.Ok;
            }

            var table = new Table().Title($"Queues: live now, and finished of the runs created since {Cli.Time(report.Since)} UTC")
                .AddColumns("Queue", "Ready", "Oldest ready", "Scheduled", "Running", "Waiting", "Completed", "Failed", "Cancelled", "Workers (slots)");
            foreach (var queue in report.Queues)
            {
                table.AddRow(Markup.Escape(queue.Queue), $"{queue.Ready:N0}", queue.Ready == 0 ? "" : Age(queue.OldestReadyAge), $"{queue.Scheduled:N0}",
                    $"{queue.Running:N0}", $"{queue.Waiting:N0}", $"{queue.Completed:N0}", $"{queue.Failed:N0}", $"{queue.Cancelled:N0}",
                    queue.Workers == 0 ? "[yellow]none[/]" : $"{queue.Workers} ({queue.WorkerSlots})");
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine(report.Queues.Count == 0 ? "No queues: no live runs, no runs in the window and no live workers." : $"[grey]Made at {Cli.Time(report.At)} UTC.[/]");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static string Age(TimeSpan age) =>
        age < TimeSpan.FromMinutes(2) ? $"{age.TotalSeconds:N1} s" : age < TimeSpan.FromHours(2) ? $"{age.TotalMinutes:N0} min" : $"{age.TotalHours:N1} h";
}
