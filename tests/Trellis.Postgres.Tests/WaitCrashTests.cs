using Trellis.TestWorker;

namespace Trellis.Postgres.Tests;

/// <summary>
/// A worker process is SIGKILLed while its run waits in the store: the wait survives it. A sleep ends on another worker
/// at its due time; an event published after the kill is delivered once; no step runs again.
/// </summary>
public sealed class WaitCrashTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private TrellisEngine _client = null!;

    public async Task InitializeAsync()
    {
        var builder = TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new SoakWorkflow(null!));
        builder.Options.Worker.Enabled = false;
        _client = await builder.StartAsync();
        await BodyLog.CreateTableAsync(database.DataSource, database.Schema);
    }

    public async Task DisposeAsync() => await _client.DisposeAsync();

    [Fact]
    public async Task AWorkerKilledWhileItsRunSleeps_TheRunWakesOnAnotherWorker_AtItsDueTime()
    {
        var input = new SoakInput(Id: 1, Items: 3, StepMs: 0, ItemMs: 0, SleepMs: 4000);
        await using var victim = await ChildWorker.StartAsync(database, "victim", output);
        var run = await _client.Client.StartAsync<SoakWorkflow>(input);
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run sleeps");
        var due = await database.ScalarAsync<DateTime>("SELECT (result->>'until')::timestamptz FROM {schema}.steps WHERE run_id = $1 AND name = 'sleep'", run.RunId);

        await victim.KillAsync();
        await using var survivor = await StartSurvivorAsync();

        Assert.Equal(SoakWorkflow.Expected(input), await run.GetResultAsync(TimeSpan.FromSeconds(60)));
        var scaleStarted = await database.ScalarAsync<DateTime>(
            "SELECT at FROM {schema}.body_log WHERE run_id = $1 AND step = 'scale' AND event = 'start'", run.RunId);
        // Woken by a timer at its time, not early, and not at some later poll of a worker that started meanwhile.
        Assert.InRange(scaleStarted, due, due.AddSeconds(2));
        Assert.All(await database.StartsAsync(run.RunId), s => Assert.Equal(1, s.Value)); // nothing ran twice
        Assert.Equal(["victim", survivor.Worker!.WorkerId], await WorkersAsync(run.RunId));
    }

    [Fact]
    public async Task AWorkerKilledWhileItsRunWaitsForAnEvent_TheEventIsDeliveredOnce()
    {
        var input = new SoakInput(Id: 2, Items: 3, StepMs: 0, ItemMs: 0, AwaitsEvent: true);
        await using var victim = await ChildWorker.StartAsync(database, "victim", output);
        var run = await _client.Client.StartAsync<SoakWorkflow>(input);
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits for its event");

        await victim.KillAsync();
        Assert.Equal(1, await _client.Client.PublishEventAsync("soak", SoakWorkflow.EventKey(input.Id), SoakWorkflow.Bonus(input.Id)));
        await using var survivor = await StartSurvivorAsync();

        Assert.Equal(SoakWorkflow.Expected(input), await run.GetResultAsync(TimeSpan.FromSeconds(60)));
        Assert.All(await database.StartsAsync(run.RunId), s => Assert.Equal(1, s.Value));
        Assert.Equal(1, await database.ScalarAsync<long>(
            "SELECT count(*) FROM {schema}.event_waits WHERE run_id = $1 AND event_id IS NOT NULL", run.RunId));
        Assert.Single(await run.GetHistoryAsync(), h => h.Event == RunHistoryEvents.EventReceived);
    }

    /// <summary>The workers that ran the run's claims, in order.</summary>
    private async Task<IReadOnlyList<string?>> WorkersAsync(string runId) =>
        [.. (await _client.Client.GetHistoryAsync(runId)).Where(h => h.Event == RunHistoryEvents.Claimed).Select(h => h.WorkerId).Distinct()];

    private Task<TrellisEngine> StartSurvivorAsync()
    {
        var log = new BodyLog(database.DataSource, database.Schema, "survivor");
        return TestEngines.Builder(database, output, queue: "default").AddWorkflow(_ => new SoakWorkflow(log)).StartAsync();
    }
}
