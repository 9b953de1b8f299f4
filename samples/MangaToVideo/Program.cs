using System.CommandLine;
using System.Diagnostics;
using MangaToVideo;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Trellis;
using Trellis.Postgres;
using Trellis.Postgres.Embedded;

var root = new RootCommand("Manga to video on Trellis: every stage and every page is checkpointed in PostgreSQL.");
DemoCommand.Configure(root);
return await root.Parse(args).InvokeAsync();

internal static class Demo
{
    public static async Task<int> RunAsync(int pageCount, string? folder, string? runId, int? crashAfterPages, CancellationToken cancellationToken)
    {
        if (pageCount is < 1 or > 2000)
        {
            AnsiConsole.MarkupLine("[red]--pages must be between 1 and 2000.[/]");
            return 2;
        }

        // The embedded default: without a configured database, a private PostgreSQL from the installed binaries.
        EmbeddedPostgres? server = null;
        var connectionString = ConnectionStrings.FromEnvironment();
        if (connectionString is null)
        {
            AnsiConsole.MarkupLine("[grey]No TRELLIS_DATABASE_URL set: starting a private PostgreSQL (data in .trellis/demo-postgres)…[/]");
            server = await EmbeddedPostgres.StartAsync(
                new EmbeddedPostgresOptions { DataDirectory = EmbeddedPostgres.DefaultDataDirectory("demo-postgres"), Database = "trellis_demo" },
                cancellationToken);
            connectionString = server.ConnectionString;
        }

        try
        {
            return await RunPipelineAsync(connectionString, embedded: server is not null, pageCount, folder, runId, crashAfterPages, cancellationToken);
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static async Task<int> RunPipelineAsync(
        string connectionString, bool embedded, int pageCount, string? folder, string? runId, int? crashAfterPages, CancellationToken cancellationToken)
    {
        var chapter = folder ?? PageTools.CreateSampleChapter(EmbeddedPostgres.DefaultDataDirectory($"demo-chapter-{pageCount}"), pageCount);
        var ocrPages = 0;
        var tools = new PageTools
        {
            AfterOcrPage = crashAfterPages is { } limit
                ? _ =>
                {
                    if (Interlocked.Increment(ref ocrPages) >= limit)
                    {
                        Console.WriteLine($"\n--crash-after-pages {limit}: killing this process now (SIGKILL).");
                        Process.GetCurrentProcess().Kill();
                    }
                }
                : null,
        };

        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        await using var trellis = await TrellisEngine.Create()
            .UsePostgres(connectionString)
            .AddWorkflow(_ => new MangaToVideoWorkflow(tools))
            .UseLoggerFactory(loggerFactory)
            // One worker id for the demo on this machine: a demo started after a crash takes the crashed one's runs up
            // at once, without waiting out their lease (as a pod restarted under its name would).
            .ConfigureWorker(w => w.WorkerId = $"manga-demo@{Environment.MachineName}")
            .StartAsync(cancellationToken);

        var job = new MangaJob(chapter, EmbeddedPostgres.DefaultDataDirectory("demo-output"));
        var run = await trellis.Client.Workflow<MangaToVideoWorkflow>().StartAsync(
            job,
            new StartOptions { RunId = runId ?? $"manga-{DateTime.UtcNow:yyyyMMdd-HHmmss}", Tags = new Dictionary<string, string> { ["demo"] = "manga-to-video" } },
            cancellationToken);
        await SayWhatTheStartDidAsync(run, chapter, cancellationToken);

        await ShowProgressAsync(run, cancellationToken);
        VideoResult video;
        try
        {
            video = await run.GetResultAsync(cancellationToken);
        }
        catch (RunFailedException ex)
        {
            AnsiConsole.MarkupLine($"[red]The run failed:[/] {Markup.Escape(ex.Error?.Message ?? ex.Message)}");
            return 1;
        }

        await PrintSummaryAsync(run, video, cancellationToken);
        PrintSql(trellis, connectionString, run.RunId);
        await ShowOcrTextAsync(trellis, connectionString, run.RunId, cancellationToken);
        AnsiConsole.MarkupLine("To see this run in the dashboard (each page's stored OCR text, the step timeline): run [bold]trellis serve[/] "
            + "(from the repository: [bold]dotnet run --project src/Trellis.Cli -- serve[/]) and open the URL it prints.");
        if (embedded && !Console.IsInputRedirected && !Console.IsOutputRedirected)
        {
            AnsiConsole.MarkupLine("[grey]The private PostgreSQL runs until you press Enter, so you can paste the SQL above into psql; press Enter before trellis serve, which starts it again.[/]");
            await Task.Run(Console.ReadLine, cancellationToken);
        }
        else if (embedded)
        {
            // Not at a terminal: nobody can press Enter, so the server stops with the demo.
            Console.WriteLine("The private PostgreSQL stops now, with the demo. To use the psql line above, run the demo in a terminal "
                + "(it waits for Enter), or set TRELLIS_DATABASE_URL to a server of your own. Its data stays in .trellis/demo-postgres.");
        }

        return 0;
    }

    /// <summary>Started, or resumed from what an earlier process stored, or finished already.</summary>
    private static async Task SayWhatTheStartDidAsync(RunHandle run, string chapter, CancellationToken cancellationToken)
    {
        var what = $"Run [bold]{Markup.Escape(run.RunId)}[/] of {Markup.Escape(chapter)}";
        if (run.Created)
        {
            AnsiConsole.MarkupLine($"{what}: started.");
            return;
        }

        var info = await run.GetAsync(cancellationToken);
        if (info.Status.IsTerminal())
        {
            AnsiConsole.MarkupLine($"{what}: {info.Status.ToText()} already; nothing runs again.");
            return;
        }

        var stored = (await run.GetStepsAsync(cancellationToken)).Count(s => s.Status == StepStatus.Completed);
        AnsiConsole.MarkupLine($"{what}: [yellow]resumed[/]; its {stored} stored step row(s) are reused, the rest runs now.");
    }

    /// <summary>Runs the last query printed above, as a user would, to show the pages' stored text.</summary>
    private static async Task ShowOcrTextAsync(TrellisEngine trellis, string connectionString, string runId, CancellationToken cancellationToken)
    {
        var schema = ((PostgresStore)trellis.Store).Schema.Quoted;
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(ConnectionStrings.Normalize(connectionString));
        await using var command = dataSource.CreateCommand(
            $"SELECT item_index + 1, result->>'text', (result->>'confidence')::numeric FROM {schema}.steps WHERE run_id = $1 AND name = 'OCR Analyzer' ORDER BY item_index");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = runId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var table = new Table().Title("The last query's answer: OCR text per page (stand-in OCR)").AddColumns("page", "text", "confidence");
        while (await reader.ReadAsync(cancellationToken))
        {
            table.AddRow($"{reader.GetInt32(0)}", Markup.Escape(reader.GetString(1)), $"{reader.GetDecimal(2)}");
        }

        AnsiConsole.Write(table);
    }

    /// <summary>Shows the progress the workflow saves on its run row, read back from PostgreSQL.</summary>
    private static async Task ShowProgressAsync(RunHandle run, CancellationToken cancellationToken)
    {
        if (Console.IsOutputRedirected)
        {
            string? last = null;
            while (true)
            {
                var state = await run.GetAsync(cancellationToken);
                var line = $"{state.ProgressPercent ?? 0,5:0.0}%  {state.ProgressMessage}";
                if (line != last)
                {
                    Console.WriteLine(line);
                    last = line;
                }

                if (state.Status.IsTerminal())
                {
                    return;
                }

                await Task.Delay(200, cancellationToken);
            }
        }

        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async progress =>
            {
                var bar = progress.AddTask("starting", maxValue: 100);
                while (true)
                {
                    var state = await run.GetAsync(cancellationToken);
                    bar.Value = state.ProgressPercent ?? 0;
                    bar.Description = Markup.Escape(state.ProgressMessage ?? state.Status.ToText());
                    if (state.Status.IsTerminal())
                    {
                        bar.Value = 100;
                        return;
                    }

                    await Task.Delay(150, cancellationToken);
                }
            });
    }

    private static async Task PrintSummaryAsync(RunHandle run, VideoResult video, CancellationToken cancellationToken)
    {
        var info = await run.GetAsync(cancellationToken);
        var steps = await run.GetStepsAsync(cancellationToken);
        // Each claim of the run has an epoch of its own; numbered here in the order the claims came.
        var claims = steps.Select(s => s.Epoch).Append(info.Epoch).Distinct().Order().Select((epoch, i) => (epoch, i + 1)).ToDictionary();
        var table = new Table().Title("Stored steps").AddColumns("position", "step", "rows", "status", "retries", "written by claim");
        foreach (var group in steps.GroupBy(s => (s.Sequence, s.Name)))
        {
            table.AddRow(
                $"{group.Key.Sequence}",
                Markup.Escape(group.Key.Name),
                group.Any(s => s.ItemIndex is not null) ? $"{group.Count()} pages" : "1",
                string.Join(", ", group.Select(s => s.Status.ToText()).Distinct()),
                // Attempts beyond the first of each row; a step or page that worked at once shows none.
                group.Sum(s => s.Attempts - 1) is var retries and > 0 ? $"{retries}" : "",
                string.Join(", ", group.Select(s => claims[s.Epoch]).Distinct().Order()));
        }

        AnsiConsole.Write(table);
        var reused = steps.Count(s => s.Epoch != info.Epoch);
        if (claims.Count > 1)
        {
            AnsiConsole.MarkupLine($"[yellow]This run was claimed {claims.Count} times ({info.WorkerLosses} worker loss(es)); {reused} stored step rows from earlier claims were reused, not recomputed.[/]");
        }

        AnsiConsole.MarkupLine($"[green]{Markup.Escape(video.Status)}[/]: {video.Pages} pages, {video.TotalSeconds:0.0} s of video → {Markup.Escape(video.OutputPath)}");
        foreach (var line in video.Log)
        {
            AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(line)}[/]");
        }
    }

    private static void PrintSql(TrellisEngine trellis, string connectionString, string runId)
    {
        var settings = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionStrings.Normalize(connectionString));
        var schema = ((PostgresStore)trellis.Store).Schema.Quoted;
        var id = runId.Replace("'", "''", StringComparison.Ordinal);
        Console.WriteLine($"""

            Everything above is in PostgreSQL. To look at it yourself:

              psql "host={settings.Host} port={settings.Port} user={settings.Username} dbname={settings.Database}"

            -- the run: status, progress, output
            SELECT id, workflow_name, status, progress_percent, progress_message, attempt, worker_losses, output
            FROM {schema}.runs WHERE id = '{id}';

            -- every step and every page, in order, with its stored result
            SELECT seq, name, item_index AS page, status, attempts, result, completed_at - started_at AS took
            FROM {schema}.steps WHERE run_id = '{id}' ORDER BY seq, item_index NULLS FIRST;

            -- the OCR text of each page
            SELECT item_index + 1 AS page, result->>'text' AS text, (result->>'confidence')::numeric AS confidence
            FROM {schema}.steps WHERE run_id = '{id}' AND name = 'OCR Analyzer' ORDER BY item_index;
            """);
    }
}
