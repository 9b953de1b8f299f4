using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Trellis.Server;

namespace Trellis.Cli;

/// <summary>How a command runs: the database opened, the work done, an error written once with its exit code.</summary>
internal static class Cli
{
    // Relaxed escaping: a terminal or a script reads this, not an HTML page.
    private static readonly JsonSerializerOptions Indented = new(ApiJson.Options) { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Runs <paramref name="work"/> with a client of the database; maps what it throws to a message and an exit code.</summary>
    public static Task<int> WithClientAsync(ParseResult parse, Func<CliContext, TrellisClient, Task<int>> work, CancellationToken cancellationToken) =>
        WithContextAsync(parse, async context =>
        {
            await using var client = context.Trellis().BuildClient();
            return await work(context, client);
        }, cancellationToken);

    public static async Task<int> WithContextAsync(ParseResult parse, Func<CliContext, Task<int>> work, CancellationToken cancellationToken)
    {
        var json = parse.GetValue(CliContext.Json);
        try
        {
            await using var context = await CliContext.OpenAsync(parse, cancellationToken);
            return await work(context);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 130;
        }
        catch (Exception ex)
        {
            var code = ExitCodes.Of(ex);
            if (json)
            {
                WriteJson(new { error = new { code, type = ex.GetType().Name, message = ex.Message } });
            }
            else
            {
                AnsiConsole.Console.Profile.Out.Writer.Flush();
                Console.Error.WriteLine($"trellis: {ex.Message}");
            }

            return code;
        }
    }

    /// <summary><c>--window</c>: the finished runs created in this window are counted (<c>trellis stats</c>, <c>trellis queues</c>).</summary>
    public static Option<string> WindowOption() =>
        new("--window") { Description = "Count the finished runs created in this window (30m, 6h, 7d).", DefaultValueFactory = _ => "1h" };

    /// <summary>The <see cref="WindowOption"/>'s value as a duration, or an <see cref="ArgumentException"/> (exit code 2).</summary>
    public static TimeSpan Window(ParseResult parse, Option<string> option)
    {
        var text = parse.GetValue(option)!;
        return Durations.TryParse(text, out var window) ? window : throw new ArgumentException($"--window '{text}' is not a duration (30m, 6h, 7d).");
    }

    /// <summary>Writes <paramref name="value"/> as indented JSON (the HTTP API's shapes).</summary>
    public static void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Indented));

    /// <summary>A status in its colour.</summary>
    public static string Status(RunStatus status) => status switch
    {
        RunStatus.Completed => "[green]completed[/]",
        RunStatus.Failed => "[red]failed[/]",
        RunStatus.Cancelled => "[grey]cancelled[/]",
        RunStatus.Running => "[blue]running[/]",
        RunStatus.Waiting => "[yellow]waiting[/]",
        _ => status.ToText(),
    };

    public static string Time(DateTimeOffset? time) => time?.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) ?? "";

    public static string Duration(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } a && to is { } b ? (b - a).TotalMilliseconds switch
        {
            < 1000 and var ms => $"{ms:0} ms",
            var ms when ms < 120_000 => $"{ms / 1000:0.0} s",
            var ms => $"{ms / 60_000:0.0} min",
        } : "";

    /// <summary>A JSON value cut to <paramref name="max"/> characters for a table cell.</summary>
    public static string Short(string? json, int max = 60) =>
        json is null ? "" : Markup.Escape(json.Length <= max ? json : json[..(max - 1)] + "…");
}
