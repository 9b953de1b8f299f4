using System.CommandLine;
using System.CommandLine.Help;
using Spectre.Console;
using Trellis.Cli;

if (Console.IsOutputRedirected)
{
    // Read by a script or a file: no colours, and tables as wide as they need (COLUMNS, else 240) instead of wrapped at 80.
    AnsiConsole.Profile.Capabilities.Ansi = false;
    AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 40 ? columns : 240;
}

// A command named "trellis" rather than a RootCommand, which takes its name from the process: "Trellis.Cli" when the tool
// runs as dotnet Trellis.Cli.dll, as an installed tool does.
var root = new Command("trellis", "Migrate, inspect and operate Trellis runs, and serve the HTTP API and the dashboard.")
{
    CliContext.DatabaseUrl,
    CliContext.Schema,
    CliContext.Json,
    new HelpOption(),
    new VersionOption(),
};
root.Subcommands.Add(AdminCommands.Migrate());
root.Subcommands.Add(AdminCommands.Status());
root.Subcommands.Add(RunCommands.Create());
root.Subcommands.Add(AdminCommands.Events());
root.Subcommands.Add(StatsCommand.Create());
root.Subcommands.Add(QueuesCommand.Create());
root.Subcommands.Add(PurgeCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
var demo = new Command("demo", "The manga-to-video demo: every stage and page checkpointed; on the embedded default unless --database-url or TRELLIS_DATABASE_URL says otherwise.");
MangaToVideo.DemoCommand.Configure(demo);
root.Subcommands.Add(demo);
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        Console.Error.WriteLine($"trellis: {error.Message}");
    }

    return ExitCodes.BadInput;
}

if (parse.CommandResult.Command == demo)
{
    // The demo reads its database and schema from the environment, as the sample does when it runs on its own.
    if (parse.GetValue(CliContext.DatabaseUrl) is { } url)
    {
        Environment.SetEnvironmentVariable("TRELLIS_DATABASE_URL", url);
    }

    if (parse.GetValue(CliContext.Schema) is { } schema)
    {
        Environment.SetEnvironmentVariable("TRELLIS_SCHEMA", schema);
    }
}

return await parse.InvokeAsync();
