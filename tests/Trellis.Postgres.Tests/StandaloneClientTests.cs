namespace Trellis.Postgres.Tests;

/// <summary>
/// A client built on its own (<see cref="TrellisBuilder.BuildClient"/>), as a web API or a command line tool would:
/// it starts runs that workers elsewhere execute and awaits their results, holds a listening connection only once
/// it waits for one, and gives back every connection when disposed.
/// </summary>
public sealed class StandaloneClientTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class Doubler : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input) =>
            await context.StepAsync("double", _ => Task.FromResult(input * 2));
    }

    [Fact]
    public async Task ItStartsRuns_ByTypeAndByName_ThatAWorkerElsewhereExecutes_AndAwaitsTheirResults()
    {
        var queue = TestEngines.NewQueue();
        await using var worker = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Doubler()).StartAsync();
        await using var client = TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Doubler()).BuildClient();
        // Knows no workflow: it starts one by the name a worker registered.
        await using var untyped = TestEngines.Builder(database, output, queue).BuildClient();

        var typed = await client.Workflow<Doubler>().StartAsync(21);
        var byName = await untyped.StartJsonAsync(nameof(Doubler), "5");

        Assert.Equal(42, await typed.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(10, await byName.GetResultAsync<int>(TimeSpan.FromSeconds(30)));
        var run = await untyped.GetRunAsync(typed.RunId);
        Assert.Equal(RunStatus.Completed, run!.Status);
    }

    [Fact]
    public async Task ItListensOnlyOnceItWaits_AndItsConnectionsCloseWhenDisposed()
    {
        var application = $"client-{Guid.NewGuid():N}"[..20];
        var builder = TestEngines.Builder(database, output)
            .AddWorkflow(_ => new Doubler())
            .UsePostgres($"{database.ConnectionString};Application Name={application}", pg =>
            {
                pg.Schema = database.Schema.Name;
                pg.ReadEnvironment = false;
            });
        await using (var engine = await TestEngines.Builder(database, output).AddWorkflow(_ => new Doubler()).StartAsync())
        {
            // The schema exists; no worker serves this client's queue.
        }

        var client = builder.BuildClient();
        var run = await client.Workflow<Doubler>().StartAsync(1);
        Assert.Equal(RunStatus.Pending, (await run.GetAsync()).Status);
        Assert.Equal(0, await ListeningConnectionsAsync(application));

        var timeout = TimeSpan.FromMilliseconds(300);
        await Assert.ThrowsAsync<TimeoutException>(() => run.GetResultAsync(timeout));
        await Eventually.HoldsAsync(async () => await ListeningConnectionsAsync(application) == 1, "the client listens once it waited");

        await client.DisposeAsync();
        await Eventually.HoldsAsync(async () => await ConnectionsAsync(application) == 0, "the client's connections closed");
    }

    // The store's listening connection is named for it.
    private Task<long> ListeningConnectionsAsync(string application) =>
        database.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", $"{application}:listener:{database.Schema.Name}");

    private Task<long> ConnectionsAsync(string application) =>
        database.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1", application + "%");
}
