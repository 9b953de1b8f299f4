namespace Trellis.Postgres.Tests;

/// <summary>Messages to one run: each received once, in the order sent, whether sent before or while the run waits.</summary>
public sealed class MessageTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>Receives three approvals on one topic, then one on another topic with a short timeout.</summary>
    private sealed class Approvals : Workflow<int, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, int input)
        {
            var received = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                received.Add((await context.ReceiveAsync<string>("approve")).Data!);
            }

            var late = await context.ReceiveAsync<string>("veto", TimeSpan.FromSeconds(1.5));
            return string.Join(",", received) + (late.TimedOut ? "; no veto" : "; veto " + late.Data);
        }
    }

    [Fact]
    public async Task MessagesArriveOnceEach_InTheOrderSent_SentBeforeOrWhileTheRunWaits()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<Approvals>().StartAsync();
        var run = await engine.Client.StartAsync<Approvals>(1);
        var other = await engine.Client.StartAsync<Approvals>(2);

        await engine.Client.SendAsync(run.RunId, "approve", "ann");
        await engine.Client.SendAsync(run.RunId, "approve", "bob");
        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits for its third");
        await engine.Client.SendAsync(run.RunId, "approve", "cy");
        await engine.Client.SendAsync(run.RunId, "approve", "dee"); // a fourth: nobody receives it

        Assert.Equal("ann,bob,cy; no veto", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(RunStatus.Waiting, (await other.GetAsync()).Status); // another run's messages are its own
        Assert.Equal(["message approve", "message approve", "message approve", "message veto"], (await run.GetStepsAsync()).Select(s => s.Name));
    }

    [Fact]
    public async Task SendingToAnUnknownRun_OrUsingTheMessagesEventNames_IsRefused()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<Approvals>().StartAsync();

        await Assert.ThrowsAsync<RunNotFoundException>(() => engine.Client.SendAsync("no-such-run", "approve", "x"));
        await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.PublishEventAsync("message:approve", "some-run", "x"));
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.events WHERE key IN ('no-such-run', 'some-run')"));
    }
}
