using System.CommandLine;

namespace MangaToVideo;

/// <summary>The demo's options and action, on any command: this program's root, or <c>trellis demo</c>.</summary>
public static class DemoCommand
{
    /// <summary>Adds the demo's options (--pages, --folder, --run-id, --crash-after-pages) and its action to <paramref name="command"/>.</summary>
    public static void Configure(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var pagesOption = new Option<int>("--pages") { Description = "Pages of the generated sample chapter.", DefaultValueFactory = _ => 12 };
        var folderOption = new Option<string?>("--folder") { Description = "A folder of page images to use instead of the generated chapter." };
        var runIdOption = new Option<string?>("--run-id") { Description = "Start, or resume, the run with this id." };
        var crashOption = new Option<int?>("--crash-after-pages") { Description = "Kill this process (SIGKILL) after this many OCR pages, to try resuming with --run-id." };
        command.Options.Add(pagesOption);
        command.Options.Add(folderOption);
        command.Options.Add(runIdOption);
        command.Options.Add(crashOption);
        command.SetAction((result, cancellationToken) => global::Demo.RunAsync(
            result.GetValue(pagesOption), result.GetValue(folderOption), result.GetValue(runIdOption), result.GetValue(crashOption), cancellationToken));
    }
}
