using System.CommandLine;
using Spectre.Console;
using Trellis.Server;

namespace Trellis.Cli;

/// <summary><c>trellis purge --older-than 30d</c>: retention, now.</summary>
internal static class PurgeCommand
{
    public static Command Create()
    {
        var olderThan = new Option<string>("--older-than") { Description = "Delete finished runs that finished longer ago than this (12h, 30d).", Required = true };
        var workflow = new Option<string?>("--workflow") { Description = "Only runs (families) of this workflow." };
        var command = new Command("purge", "Delete finished runs older than an age, with their steps, history and messages; live runs are never deleted.") { olderThan, workflow };
        command.SetAction((parse, ct) => Cli.WithClientAsync(parse, async (context, client) =>
        {
            var text = parse.GetValue(olderThan)!;
            if (!Durations.TryParse(text, out var age))
            {
                throw new ArgumentException($"--older-than '{text}' is not a duration (12h, 30d).");
            }

            long deleted;
            if (context.AsJson || Console.IsOutputRedirected)
            {
                deleted = await client.PurgeAsync(age, parse.GetValue(workflow), cancellationToken: ct);
            }
            else
            {
                deleted = await AnsiConsole.Status().StartAsync("Deleting…", async status =>
                    await client.PurgeAsync(age, parse.GetValue(workflow), new Progress<long>(n => status.Status($"Deleting… {n:N0} run(s) so far")), ct));
            }

            if (context.AsJson)
            {
                Cli.WriteJson(new { deleted });
            }
            else
            {
                AnsiConsole.MarkupLine($"Deleted {deleted:N0} run(s) that finished more than {Markup.Escape(text)} ago.");
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }
}
