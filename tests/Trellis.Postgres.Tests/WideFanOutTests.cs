namespace Trellis.Postgres.Tests;

/// <summary>
/// A per-item step wider than one page of stored rows, resumed by another engine: the items stored by the first run
/// again from their rows (read page by page), none of them twice, and only the rest run.
/// </summary>
public sealed class WideFanOutTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private const int Items = 2_500;
    private const int StoredBeforeStop = 2_300;

    /// <summary>Squares every item; the items from <see cref="StoredBeforeStop"/> on wait for the gate "rest".</summary>
    private sealed class Squares(Probe probe) : Workflow<int, long>
    {
        public override async Task<long> RunAsync(WorkflowContext context, int input)
        {
            var squares = await context.ForEachAsync("square", Enumerable.Range(0, Items).ToArray(), async (item, index, ct) =>
            {
                probe.Hit($"item {index}");
                if (index >= StoredBeforeStop)
                {
                    await probe.Gate("rest").WaitAsync(ct);
                }

                return (long)item * item;
            }, maxParallelism: 64);
            return squares.Sum();
        }
    }

    [Fact]
    public async Task AResumedRun_ReplaysMorePagesOfStoredItemsThanOne_AndRunsOnlyTheRest()
    {
        var probe = new Probe();
        var queue = TestEngines.NewQueue();
        RunHandle run;
        await using (var first = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Squares(probe)).StartAsync())
        {
            run = await first.Client.StartAsync<Squares>(0);
            await Eventually.HoldsAsync(async () => await database.ScalarAsync<long>(
                "SELECT count(*) FROM {schema}.steps WHERE run_id = $1 AND status = 'completed'", run.RunId) == StoredBeforeStop,
                "the first engine stored the first items");
        } // stops: the gated items are abandoned, and the run goes back to the queue

        probe.Open("rest");
        await using var second = await TestEngines.Builder(database, output, queue).AddWorkflow(_ => new Squares(probe)).StartAsync();

        Assert.Equal(Enumerable.Range(0, Items).Sum(i => (long)i * i), await second.Client.GetHandle(run.RunId).GetResultAsync<long>(TimeSpan.FromSeconds(60)));
        Assert.All(Enumerable.Range(0, StoredBeforeStop), i => Assert.Equal(1, probe.Count($"item {i}")));
        Assert.Equal(Items, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.steps WHERE run_id = $1 AND status = 'completed'", run.RunId));
    }
}
