using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>The event workload: a run waiting in the store, and how long an event takes to get its code going again.</summary>
internal static partial class Runs
{
    /// <summary>
    /// One run at a time on an idle engine, as W3: the run waits for an event keyed by its sample
    /// (<c>--variant event</c>: <c>WaitForEventAsync</c>, published with <c>PublishEventAsync</c>) or for a message
    /// (<c>--variant message</c>: <c>ReceiveAsync</c>, sent with <c>SendAsync</c>, DBOS's send/recv). Once the run is
    /// <c>waiting</c> in the store (polled every 1 ms), then 20 ms of idle, the bench publishes; <b>wake</b> is that call's
    /// start to the start of the run's next step body (same process, same clock). The run's result is awaited before the
    /// next sample.
    /// </summary>
    public static async Task<Dictionary<string, object?>> EventsAsync(BenchOptions options)
    {
        var samples = options.Int("samples", 200);
        var warmup = options.Int("warmup", 10);
        var gapMs = options.Int("gap-ms", 20);
        var variant = options.Values.GetValueOrDefault("variant") ?? "event";
        var message = variant switch
        {
            "event" => false,
            "message" => true,
            _ => throw new ArgumentException($"Unknown variant '{variant}'; use event or message."),
        };
        await using var engine = await Engine(options, worker: true).AddWorkflow<Waiter>().StartAsync();
        await using var probe = NpgsqlDataSource.Create(ConnectionStrings.Normalize(options.DbUrl));
        await Task.Delay(1000);

        // --trace K: the database commands and Trellis spans of the last K samples, from the publish call on (diagnostic).
        var traced = options.Int("trace", 0);
        var spans = new ConcurrentQueue<Activity>();
        using var listener = traced == 0 ? null : new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Npgsql" or "Trellis",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        if (listener is not null)
        {
            ActivitySource.AddActivityListener(listener);
        }

        var traces = new List<object>();
        var wake = new List<double>();
        var publish = new List<double>();
        var e2e = new List<double>();
        var toWaiting = new List<double>();
        for (var s = 0; s < warmup + samples; s++)
        {
            var tStart = Stopwatch.GetTimestamp();
            var run = await engine.Client.StartAsync<Waiter>(new Waiter.Input(s, message));
            var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while ((await run.GetAsync()).Status != RunStatus.Waiting)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException($"sample {s}: the run was not waiting after 10 s");
                }

                await Task.Delay(1);
            }

            var tWaiting = Stopwatch.GetTimestamp();
            await Task.Delay(gapMs);

            spans.Clear();
            var t0Utc = DateTime.UtcNow;
            var t0 = Stopwatch.GetTimestamp();
            if (message)
            {
                await engine.Client.SendAsync(run.RunId, Waiter.Topic, s);
            }
            else
            {
                await engine.Client.PublishEventAsync(Waiter.EventName, Waiter.Key(s), s);
            }

            var tA = Stopwatch.GetTimestamp();
            if (await run.GetResultAsync() != s)
            {
                throw new InvalidOperationException($"sample {s}: wrong result");
            }

            var t1 = Stopwatch.GetTimestamp();
            if (s >= warmup + samples - traced)
            {
                traces.Add(new Dictionary<string, object?>
                {
                    ["sample"] = s,
                    ["wakeMs"] = Math.Round(Ms(t0, Waiter.Woke[s]), 3),
                    ["spans"] = spans.OrderBy(a => a.StartTimeUtc).Select(a => new Dictionary<string, object?>
                    {
                        ["atMs"] = Math.Round((a.StartTimeUtc - t0Utc).TotalMilliseconds, 3),
                        ["ms"] = Math.Round(a.Duration.TotalMilliseconds, 3),
                        ["what"] = a.Source.Name == "Npgsql"
                            ? Shorten(a.GetTagItem("db.query.text") as string ?? a.GetTagItem("db.statement") as string ?? a.DisplayName)
                            : $"trellis: {a.DisplayName}",
                    }).ToArray(),
                });
            }

            if (s >= warmup)
            {
                wake.Add(Ms(t0, Waiter.Woke[s]));
                publish.Add(Ms(t0, tA));
                e2e.Add(Ms(t0, t1));
                toWaiting.Add(Ms(tStart, tWaiting));
            }

            await Task.Delay(gapMs);
        }

        var woken = await CountAsync(probe, "SELECT count(*) FROM trellis.steps WHERE name = 'woke' AND status = 'completed'");
        if (woken != warmup + samples)
        {
            throw new InvalidOperationException($"{woken} woken runs; expected {warmup + samples}");
        }

        return new()
        {
            ["workload"] = "events-round-trip",
            ["variant"] = variant,
            ["n"] = samples,
            ["warmup"] = warmup,
            ["gapMs"] = gapMs,
            ["config"] = Config(options),
            ["waitCall"] = message ? "ctx.ReceiveAsync<int>(topic), sent with client.SendAsync(runId, topic, i)" : "ctx.WaitForEventAsync<int>(name, key unique per sample), published with client.PublishEventAsync(name, key, i)",
            ["measured"] = "wake: publish/send call start -> the waiting run's next step body starts (the run waited in the store, status waiting, then 20 ms idle)",
            ["wake"] = Stats.Of(wake),
            ["publishCall"] = Stats.Of(publish),
            ["e2e"] = Stats.Of(e2e),
            ["startToWaitingObserved"] = Stats.Of(toWaiting),
            ["samplesMs"] = wake.Select(x => Math.Round(x, 3)).ToArray(),
            ["traces"] = traced == 0 ? null : traces,
        };
    }

    private static string Shorten(string sql)
    {
        var flat = string.Join(' ', sql.Split((char[])['\n', '\r', ' '], StringSplitOptions.RemoveEmptyEntries));
        return flat.Length <= 140 ? flat : flat[..140] + "…";
    }
}
