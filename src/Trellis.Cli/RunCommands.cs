using System.CommandLine;
using Spectre.Console;
using Trellis.Server;

namespace Trellis.Cli;

/// <summary><c>trellis runs list|show|cancel|retry|resume|fork</c>.</summary>
internal static class RunCommands
{
    public static Command Create()
    {
        var runs = new Command("runs", "List, inspect and operate runs.");
        runs.Subcommands.Add(List());
        runs.Subcommands.Add(Show());
        runs.Subcommands.Add(Control("cancel", "Cancel a run (and its children).", (client, id, ct) => client.CancelAsync(id, ct)));
        runs.Subcommands.Add(Control("retry", "Run a failed run again from its failed step.", (client, id, ct) => client.RetryAsync(id, ct)));
        runs.Subcommands.Add(Control("resume", "Resume a cancelled run, or one stopped by worker losses.", (client, id, ct) => client.ResumeAsync(id, ct)));
        runs.Subcommands.Add(Fork());
        return runs;
    }

    private static Command List()
    {
        var status = new Option<string?>("--status") { Description = "pending, running, waiting, completed, failed or cancelled." };
        var workflow = new Option<string?>("--workflow") { Description = "Only runs of this workflow." };
        var queue = new Option<string?>("--queue") { Description = "Only runs on this queue." };
        var tag = new Option<string?>("--tag") { Description = "Only runs with this tag, as key=value." };
        var since = new Option<string?>("--since") { Description = "Only runs created since: a duration back from now (30m, 2h, 7d) or an ISO 8601 time." };
        var limit = new Option<int>("--limit") { Description = "At most this many runs (1–1000).", DefaultValueFactory = _ => 50 };
        var cursor = new Option<string?>("--cursor") { Description = "The next page: the cursor the previous page printed." };
        var command = new Command("list", "List runs, newest first.") { status, workflow, queue, tag, since, limit, cursor };
        command.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            var query = new RunQuery
            {
                Status = parse.GetValue(status) is { } s ? ApiQuery.Status(s) : null,
                WorkflowName = parse.GetValue(workflow),
                Queue = parse.GetValue(queue),
                Tag = parse.GetValue(tag) is { } t ? (t.Split('=', 2) is [var k, var v] && k.Length > 0 ? new(k, v) : throw new ArgumentException("--tag must be key=value.")) : null,
                CreatedAfter = parse.GetValue(since) is { } from ? Since(from) : null,
                Limit = parse.GetValue(limit),
                Cursor = parse.GetValue(cursor),
            };
            var page = await client.ListRunsAsync(query, ct);
            if (context.AsJson)
            {
                Cli.WriteJson(new RunPageView([.. page.Runs.Select(RunView.Of)], page.NextCursor));
                return ExitCodes.Ok;
            }

            var table = new Table().AddColumns("Run", "Workflow", "Status", "Created (UTC)", "Took", "Progress");
            foreach (var run in page.Runs)
            {
                table.AddRow(Markup.Escape(run.Id), Markup.Escape(run.WorkflowName), Cli.Status(run.Status), Cli.Time(run.CreatedAt),
                    Cli.Duration(run.StartedAt ?? run.CreatedAt, run.CompletedAt), run.ProgressPercent is { } p ? $"{p:0}%" : "");
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine(page.Runs.Count == 0 ? "No runs." : $"{page.Runs.Count} run(s).");
            if (page.NextCursor is { } next)
            {
                AnsiConsole.MarkupLine($"More: [bold]--cursor {Markup.Escape(next)}[/]");
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("run-id") { Description = "The run." };
        var command = new Command("show", "A run: its status, steps with timings, attempts and stored data, children and history.") { id };
        command.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            var runId = parse.GetValue(id)!;
            var run = await client.GetRunAsync(runId, ct) ?? throw new RunNotFoundException(runId);
            var steps = await client.GetStepOverviewAsync(runId, ct);
            var items = new List<StepInfo>();
            foreach (var perItem in steps.PerItem)
            {
                items.AddRange(await client.GetStepItemsAsync(runId, perItem.Sequence, -1, 1000, ct));
            }

            var children = await client.GetChildrenAsync(runId, ct);
            var history = await client.GetHistoryAsync(runId, ct);
            if (context.AsJson)
            {
                Cli.WriteJson(new
                {
                    run = RunView.Of(run),
                    steps = steps.Steps.Concat(items).OrderBy(s => s.Sequence).ThenBy(s => s.ItemIndex ?? -1).Select(StepView.Of),
                    children = children.Select(RunView.Of),
                    history = history.Select(HistoryView.Of),
                });
                return ExitCodes.Ok;
            }

            RunDisplay.Write(run, [.. steps.Steps.Concat(items).OrderBy(s => s.Sequence).ThenBy(s => s.ItemIndex ?? -1)], children, history);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static Command Control(string name, string description, Func<TrellisClient, string, CancellationToken, Task<RunInfo>> action)
    {
        var id = new Argument<string>("run-id") { Description = "The run." };
        var command = new Command(name, description) { id };
        command.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            var run = await action(client, parse.GetValue(id)!, ct);
            Report(context, run, $"{name}: run [bold]{Markup.Escape(run.Id)}[/] is now {Cli.Status(run.Status)}.");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static Command Fork()
    {
        var id = new Argument<string>("run-id") { Description = "The run to fork." };
        var from = new Option<string>("--from-step") { Description = "The step to run again from: its position (0 is the first) or its name.", Required = true };
        var newId = new Option<string?>("--run-id") { Description = "The fork's id (forking again with it returns the same fork)." };
        var version = new Option<int?>("--version") { Description = "The workflow version the fork runs. Default: the source's." };
        var command = new Command("fork", "Start a new run from a run's checkpoints before a step, and run again from there.") { id, from, newId, version };
        command.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            var options = new ForkOptions { RunId = parse.GetValue(newId), WorkflowVersion = parse.GetValue(version) };
            var step = parse.GetValue(from)!;
            var fork = int.TryParse(step, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var position)
                ? await client.ForkAsync(parse.GetValue(id)!, position, options, ct)
                : await client.ForkAsync(parse.GetValue(id)!, step, options, ct);
            Report(context, fork, $"fork: run [bold]{Markup.Escape(fork.Id)}[/] ({Cli.Status(fork.Status)}) runs {Markup.Escape(fork.ForkedFromRunId ?? "")} again from step {fork.ForkedAtStep}.");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static void Report(CliContext context, RunInfo run, string markup)
    {
        if (context.AsJson)
        {
            Cli.WriteJson(RunView.Of(run));
        }
        else
        {
            AnsiConsole.MarkupLine(markup);
        }
    }

    private static DateTimeOffset Since(string text) =>
        Durations.TryParseTime(text, DateTimeOffset.UtcNow, out var at) ? at
        : throw new ArgumentException($"--since '{text}' is neither a duration (30m, 2h, 7d) nor an ISO 8601 time.");
}
