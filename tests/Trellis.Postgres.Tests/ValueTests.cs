namespace Trellis.Postgres.Tests;

/// <summary>
/// Values a run publishes (SetValueAsync) that callers read or wait for (GetValueAsync), and streams it writes
/// (WriteStreamAsync) that callers read as they grow (ReadStreamAsync).
/// </summary>
public sealed class ValueTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    public sealed record Stage(string Name, int Done);

    private sealed class Staged : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int input)
        {
            await context.SetValueAsync("stage", new Stage("loaded", 1));
            await context.ReceiveAsync<string>("go");
            await context.SetValueAsync("stage", new Stage("encoded", 2));
            return "done";
        }
    }

    [Fact]
    public async Task ACallerWaitsForAValue_ReadsItsLatest_AndGetsNothingForAKeyTheRunNeverSet()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<Staged>().StartAsync();
        var run = await engine.Client.StartAsync<Staged>(1);

        Assert.Equal(new Stage("loaded", 1), await engine.Client.GetValueAsync<Stage>(run.RunId, "stage", TimeSpan.FromSeconds(30)));
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits for its message");
        await engine.Client.SendAsync(run.RunId, "go");
        Assert.Equal("done", await run.GetResultAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(new Stage("encoded", 2), await engine.Client.GetValueAsync<Stage>(run.RunId, "stage"));
        Assert.Equal(["value stage", "message go", "value stage"], (await run.GetStepsAsync()).Select(s => s.Name));
        Assert.Null(await engine.Client.GetValueAsync<Stage>(run.RunId, "never", TimeSpan.FromSeconds(30))); // finished: no wait
        await Assert.ThrowsAsync<RunNotFoundException>(() => engine.Client.GetValueAsync<Stage>("no-such-run", "stage"));
        Assert.Equal(1, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.run_values WHERE run_id = $1", run.RunId));
    }

    private sealed class Progress : Workflow<bool, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, bool close)
        {
            for (var page = 1; page <= 3; page++)
            {
                await context.WriteStreamAsync("pages", page);
            }

            await context.ReceiveAsync<string>("more");
            await context.WriteStreamAsync("pages", 4);
            if (close)
            {
                await context.CloseStreamAsync("pages");
            }

            return 4;
        }
    }

    [Fact]
    public async Task AStream_IsReadAsItGrows_AcrossAWait_AndEndsWhenClosedOrWhenTheRunEnds()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<Progress>().StartAsync();
        foreach (var close in new[] { true, false })
        {
            var run = await engine.Client.StartAsync<Progress>(close);
            var read = new System.Collections.Concurrent.ConcurrentQueue<int>();
            var reading = Task.Run(async () =>
            {
                await foreach (var page in engine.Client.ReadStreamAsync<int>(run.RunId, "pages"))
                {
                    read.Enqueue(page);
                }
            });

            await Eventually.HoldsAsync(() => read.Count == 3, "the first three pages were read", observed: () => $"read {read.Count}");
            Assert.False(reading.IsCompleted); // the run waits: the stream goes on
            await engine.Client.SendAsync(run.RunId, "more");

            await reading.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal([1, 2, 3, 4], read);
            Assert.Equal(4, await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        }

        await Assert.ThrowsAsync<RunNotFoundException>(async () =>
        {
            await foreach (var _ in engine.Client.ReadStreamAsync<int>("no-such-run", "pages"))
            {
            }
        });
    }
}
