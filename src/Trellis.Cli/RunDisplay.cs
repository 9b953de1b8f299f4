using Spectre.Console;

namespace Trellis.Cli;

/// <summary><c>trellis runs show</c> for people: the run, its steps (items of a per-item step under it), children, history.</summary>
internal static class RunDisplay
{
    private const int ItemsShown = 20;

    public static void Write(RunInfo run, IReadOnlyList<StepInfo> steps, IReadOnlyList<RunInfo> children, IReadOnlyList<RunHistoryEntry> history)
    {
        var facts = new Grid().AddColumn().AddColumn();
        facts.AddRow("[bold]Run[/]", Markup.Escape(run.Id));
        facts.AddRow("Workflow", $"{Markup.Escape(run.WorkflowName)} v{run.WorkflowVersion}");
        facts.AddRow("Status", Cli.Status(run.Status) + (run.WaitReason is { } wait ? $" ({Markup.Escape(wait)})" : ""));
        facts.AddRow("Queue", Markup.Escape(run.Queue));
        facts.AddRow("Created", Cli.Time(run.CreatedAt));
        facts.AddRow("Finished", run.CompletedAt is null ? "" : $"{Cli.Time(run.CompletedAt)} (took {Cli.Duration(run.StartedAt ?? run.CreatedAt, run.CompletedAt)})");
        facts.AddRow("Attempts", $"{run.Attempt} of {run.MaxAttempts}; worker losses {run.WorkerLosses} of {run.MaxWorkerLosses}");
        if (run.LockedBy is { } holder)
        {
            facts.AddRow("Held by", $"{Markup.Escape(holder)} until {Cli.Time(run.LeaseExpiresAt)}");
        }

        if (run.ProgressPercent is { } percent)
        {
            facts.AddRow("Progress", $"{percent:0}% {Markup.Escape(run.ProgressMessage ?? "")}");
        }

        facts.AddRow("Input", Cli.Short(run.InputJson, 100));
        facts.AddRow("Output", Cli.Short(run.OutputJson, 100));
        if (run.Error is { } error)
        {
            facts.AddRow("[red]Error[/]", Markup.Escape($"{error.Type}: {error.Message}"));
        }

        if (run.ParentRunId is { } parent)
        {
            facts.AddRow("Parent", Markup.Escape(parent));
        }

        if (run.ForkedFromRunId is { } source)
        {
            facts.AddRow("Forked from", $"{Markup.Escape(source)} at step {run.ForkedAtStep}");
        }

        AnsiConsole.Write(facts);
        AnsiConsole.WriteLine();

        var table = new Table().Title("Steps").AddColumns("#", "Step", "Status", "Attempts", "Started (UTC)", "Took", "Result / error");
        foreach (var group in steps.GroupBy(s => s.Sequence))
        {
            var rows = group.ToList();
            if (rows[0].ItemIndex is null)
            {
                AddRow(table, rows[0], $"{rows[0].Sequence}", Markup.Escape(rows[0].Name));
                continue;
            }

            var done = rows.Count(r => r.Status == StepStatus.Completed);
            table.AddRow($"{group.Key}", $"{Markup.Escape(rows[0].Name)} [grey](per item)[/]", $"{done} of {rows.Count} stored items completed", "", "", "", "");
            foreach (var item in rows.Take(ItemsShown))
            {
                AddRow(table, item, "", $"  [grey]item {item.ItemIndex}[/]");
            }

            if (rows.Count > ItemsShown)
            {
                table.AddRow("", $"  [grey]… {rows.Count - ItemsShown} more (--json shows all)[/]", "", "", "", "", "");
            }
        }

        AnsiConsole.Write(table);
        if (children.Count > 0)
        {
            var childTable = new Table().Title("Children").AddColumns("Run", "Workflow", "Status");
            foreach (var child in children)
            {
                childTable.AddRow(Markup.Escape(child.Id), Markup.Escape(child.WorkflowName), Cli.Status(child.Status));
            }

            AnsiConsole.Write(childTable);
        }

        var events = new Table().Title("History").AddColumns("At (UTC)", "Event", "Worker", "Attempt", "Detail");
        foreach (var entry in history)
        {
            events.AddRow(Cli.Time(entry.At), Markup.Escape(entry.Event), Markup.Escape(entry.WorkerId ?? ""), $"{entry.Attempt}", Cli.Short(entry.DetailJson, 70));
        }

        AnsiConsole.Write(events);
    }

    private static void AddRow(Table table, StepInfo step, string position, string name)
    {
        var outcome = step.Error is { } error ? $"[red]{Markup.Escape(error.Type)}: {Markup.Escape(Truncate(error.Message, 70))}[/]" : Cli.Short(step.ResultJson);
        var status = step.Status switch
        {
            StepStatus.Completed => "[green]completed[/]",
            StepStatus.Failed => "[red]failed[/]",
            _ => "[blue]running[/]",
        };
        table.AddRow(position, name, status, $"{step.Attempts}", Cli.Time(step.StartedAt), Cli.Duration(step.StartedAt, step.CompletedAt), outcome);
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
