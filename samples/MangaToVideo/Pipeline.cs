namespace MangaToVideo;

/// <summary>What to turn into a video: a folder of page images.</summary>
public sealed record MangaJob(string Folder, string OutputFolder);

/// <summary>Input Loader: the page images, in reading order.</summary>
public sealed record PageList(string Folder, IReadOnlyList<string> Pages, int TotalPages);

/// <summary>OCR Analyzer, per page: the text found and how sure the reader is.</summary>
public sealed record OcrResult(int Page, string Text, double Confidence);

/// <summary>Text Density, per page.</summary>
public sealed record TextDensity(int Page, int Words, int Characters);

/// <summary>Duration Calculator: how long each page stays on screen.</summary>
public sealed record PageDuration(int Page, double Seconds);

/// <summary>Video Encoder: where the video went and what the encoder said.</summary>
public sealed record VideoResult(string Status, string OutputPath, IReadOnlyList<string> Log, double TotalSeconds, int Pages);

/// <summary>
/// The manga-to-video pipeline as a Trellis workflow. Every stage is a step whose output is stored in
/// PostgreSQL; the two per-page stages store one row per page. After a crash the run resumes after the
/// last stored page.
/// </summary>
public sealed class MangaToVideoWorkflow(PageTools tools) : Trellis.Workflow<MangaJob, VideoResult>
{
    public override async Task<VideoResult> RunAsync(Trellis.WorkflowContext context, MangaJob job)
    {
        var pages = await context.StepAsync("Input Loader", ct => PageTools.ListPagesAsync(job.Folder, ct));
        await context.ReportProgressAsync(5, $"{pages.TotalPages} pages found");

        var done = 0;
        var ocr = await context.ForEachAsync("OCR Analyzer", pages.Pages, async (page, index, ct) =>
        {
            var result = await tools.ReadTextAsync(page, index, ct);
            var finished = Interlocked.Increment(ref done);
            await context.ReportProgressAsync(5 + 65.0 * finished / pages.TotalPages, $"OCR {finished}/{pages.TotalPages}");
            return result;
        }, maxParallelism: 4);

        var density = await context.ForEachAsync("Text Density", ocr, (page, _, _) => Task.FromResult(PageTools.MeasureText(page)), maxParallelism: 8);
        await context.ReportProgressAsync(80, "text measured");

        var durations = await context.StepAsync("Duration Calculator", _ => Task.FromResult(PageTools.PageDurations(density)));
        await context.ReportProgressAsync(85, "durations computed");

        var video = await context.StepAsync("Video Encoder", ct => PageTools.EncodeAsync(context.RunId, pages, durations, job.OutputFolder, ct));
        await context.ReportProgressAsync(100, video.Status);
        return video;
    }
}
