namespace Trellis.Postgres.Tests;

/// <summary>Values a run publishes (SetValueAsync) that callers read or wait for (GetValueAsync).</summary>
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
}
