using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MangaToVideo;

/// <summary>
/// The work behind each stage. OCR and encoding are DETERMINISTIC STAND-INS in this version: the
/// "OCR" derives text from a hash of the page's bytes (and takes 150–400 ms, like a real reader), and
/// the "encoder" writes an ffmpeg concat list with the per-page durations instead of a video file.
/// The real tesseract / ffmpeg stages come in a later version; the workflow around them stays as it is.
/// </summary>
public sealed class PageTools
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".webp", ".pgm", ".ppm"];

    private static readonly string[] Lines =
    [
        "こんにちは！", "Where are you going?", "We have to hurry.", "……", "I won't give up!", "That's impossible!",
        "Look out!", "Thank you.", "Is this the end?", "Wait for me!", "ドーン", "Let's go together.",
    ];

    /// <summary>When set, called after each OCR page; the demo uses it to crash on purpose.</summary>
    public Action<int>? AfterOcrPage { get; init; }

    public static Task<PageList> ListPagesAsync(string folder, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(folder))
        {
            throw new Trellis.NonRetryableException($"The page folder '{folder}' does not exist.");
        }

        var pages = Directory.EnumerateFiles(folder)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (pages.Count == 0)
        {
            throw new Trellis.NonRetryableException($"The folder '{folder}' has no page images ({string.Join(", ", ImageExtensions)}).");
        }

        return Task.FromResult(new PageList(folder, pages, pages.Count));
    }

    /// <summary>Stand-in OCR: deterministic text and confidence from the page's bytes.</summary>
    public async Task<OcrResult> ReadTextAsync(string page, int index, CancellationToken cancellationToken)
    {
        var hash = SHA256.HashData(await File.ReadAllBytesAsync(page, cancellationToken));
        await Task.Delay(150 + hash[0] % 250, cancellationToken);
        var lineCount = 1 + hash[1] % 3;
        var text = string.Join(" ", Enumerable.Range(0, lineCount).Select(i => Lines[hash[2 + i] % Lines.Length]));
        var confidence = Math.Round(0.80 + hash[5] % 20 / 100.0, 2);
        AfterOcrPage?.Invoke(index);
        return new OcrResult(index + 1, text, confidence);
    }

    public static TextDensity MeasureText(OcrResult page) =>
        new(page.Page, page.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length, page.Text.Length);

    /// <summary>2.5 s per page plus 60 ms per character, at most 8 s.</summary>
    public static IReadOnlyList<PageDuration> PageDurations(IReadOnlyList<TextDensity> pages) =>
        [.. pages.Select(p => new PageDuration(p.Page, Math.Min(8.0, Math.Round(2.5 + 0.06 * p.Characters, 2))))];

    /// <summary>Stand-in encoder: writes the ffmpeg concat list that would produce the video.</summary>
    public static async Task<VideoResult> EncodeAsync(string runId, PageList pages, IReadOnlyList<PageDuration> durations, string outputFolder, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(outputFolder);
        var output = Path.Combine(outputFolder, $"{runId}.ffconcat");
        var concat = new StringBuilder("ffconcat version 1.0\n");
        for (var i = 0; i < pages.Pages.Count; i++)
        {
            concat.Append(CultureInfo.InvariantCulture, $"file '{Path.GetFullPath(pages.Pages[i])}'\nduration {durations[i].Seconds}\n");
        }

        await File.WriteAllTextAsync(output, concat.ToString(), cancellationToken);
        var total = durations.Sum(d => d.Seconds);
        string[] log =
        [
            $"stand-in encoder: {pages.TotalPages} pages, {total:0.0} s",
            $"wrote concat list {output}",
            $"real encoding would run: ffmpeg -f concat -safe 0 -i {output} -vf format=yuv420p video.mp4",
        ];
        return new VideoResult("encoded (stand-in)", output, log, total, pages.TotalPages);
    }

    /// <summary>Writes <paramref name="count"/> grey-scale page images (PGM) for the demo.</summary>
    public static string CreateSampleChapter(string folder, int count)
    {
        Directory.CreateDirectory(folder);
        for (var page = 1; page <= count; page++)
        {
            var path = Path.Combine(folder, $"page-{page:000}.pgm");
            if (File.Exists(path))
            {
                continue;
            }

            const int Width = 64, Height = 96;
            var pixels = new byte[Width * Height];
            new Random(page).NextBytes(pixels);
            var header = Encoding.ASCII.GetBytes($"P5\n{Width} {Height}\n255\n");
            File.WriteAllBytes(path, [.. header, .. pixels]);
        }

        return folder;
    }
}
