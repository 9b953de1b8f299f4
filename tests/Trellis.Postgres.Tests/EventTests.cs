namespace Trellis.Postgres.Tests;

/// <summary>
/// Runs that wait for events: a waiting run holds no worker and the event makes it ready; an event published before
/// the run reached its wait (after its effective-from time) is delivered; several runs on one name and key each
/// receive it; each wait receives an event once; a timeout is a result; many events publish in one call.
/// </summary>
public sealed class EventTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    public sealed record Payment(string OrderId, decimal Amount);

    /// <summary>Waits, after a gated first step, for "paid" with the order id as key, for up to <c>timeout</c>.</summary>
    private sealed class AwaitPayment(Probe probe, TimeSpan? timeout = null) : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string orderId)
        {
            await context.StepAsync("reserve", async _ =>
            {
                probe.Hit("reserve");
                await probe.Gate("reserve " + orderId);
                return orderId;
            });
            var paid = await context.WaitForEventAsync<Payment>("paid", orderId, timeout);
            return paid.TimedOut ? "timed out" : $"{paid.Data!.OrderId} paid {paid.Data.Amount}";
        }
    }

    /// <summary>Waits twice on one name and key: each wait takes its own event.</summary>
    private sealed class TwoInstallments : Workflow<string, string>
    {
        public override async Task<string> RunAsync(WorkflowContext context, string orderId)
        {
            var first = await context.WaitForEventAsync<int>("installment", orderId);
            var second = await context.WaitForEventAsync<int>("installment", orderId);
            return $"{first.Data} then {second.Data}";
        }
    }

    [Fact]
    public async Task AWaitingRun_HoldsNoWorker_AndTheEventMakesItGoOn()
    {
        var probe = new Probe();
        probe.Open("reserve o-1");
        await using var engine = await Engine(probe).StartAsync();
        var run = await engine.Client.StartAsync<AwaitPayment>("o-1");

        await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");
        var waiting = await run.GetAsync();
        Assert.Equal(("event paid / o-1", DateTimeOffset.MaxValue), (waiting.WaitReason, waiting.ScheduledAt));
        await Eventually.HoldsAsync(() => engine.Worker!.InFlightCount == 0, "the worker let the run go");
        Assert.Equal(1, await database.ScalarAsync<long>(
            "SELECT count(*) FROM {schema}.event_waits WHERE run_id = $1 AND name = 'paid' AND key = 'o-1' AND event_id IS NULL", run.RunId));

        Assert.Equal(1, await engine.Client.PublishEventAsync("paid", "o-1", new Payment("o-1", 12.5m)));

        Assert.Equal("o-1 paid 12.5", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, probe.Count("reserve"));
        var step = (await run.GetStepsAsync()).Single(s => s.Name == "event paid");
        Assert.True(System.Text.Json.Nodes.JsonNode.Parse(step.ResultJson!)!["received"]!.GetValue<bool>());
    }

    [Fact]
    public async Task AnEventPublishedBeforeTheRunReachedItsWait_IsDelivered()
    {
        var probe = new Probe();
        await using var engine = await Engine(probe).StartAsync();
        var run = await engine.Client.StartAsync<AwaitPayment>("o-2");
        await probe.WaitForAsync("reserve", 1);

        await engine.Client.PublishEventAsync("paid", "o-2", new Payment("o-2", 3m));
        probe.Open("reserve o-2");

        Assert.Equal("o-2 paid 3", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task SeveralRunsOnOneKey_EachReceiveTheEvent_AndARunCreatedAfterIt_DoesNot()
    {
        var probe = new Probe();
        probe.Open("reserve o-3");
        await using var engine = await Engine(probe, timeout: TimeSpan.FromSeconds(2)).StartAsync();
        var runs = new[] { await engine.Client.StartAsync<AwaitPayment>("o-3"), await engine.Client.StartAsync<AwaitPayment>("o-3") };
        foreach (var run in runs)
        {
            await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");
        }

        Assert.Equal(2, await engine.Client.PublishEventAsync("paid", "o-3", new Payment("o-3", 1m)));
        var late = await engine.Client.StartAsync<AwaitPayment>("o-3");

        Assert.All(await Task.WhenAll(runs.Select(r => r.GetResultAsync(TimeSpan.FromSeconds(30)))), r => Assert.Equal("o-3 paid 1", r));
        Assert.Equal("timed out", await late.GetResultAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task ATimeout_IsAResult_AndAnEventAfterIt_ReachesNoOne()
    {
        var probe = new Probe();
        probe.Open("reserve o-4");
        await using var engine = await Engine(probe, timeout: TimeSpan.FromSeconds(1.5)).StartAsync();
        var run = await engine.Client.StartAsync<AwaitPayment>("o-4");

        Assert.Equal("timed out", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await engine.Client.PublishEventAsync("paid", "o-4", new Payment("o-4", 9m)));
        Assert.Equal(1, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.event_waits WHERE run_id = $1 AND timed_out", run.RunId));
    }

    [Fact]
    public async Task EachWait_ReceivesAnEventOnce_AndManyEventsPublishInOneCall()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<TwoInstallments>().StartAsync();
        var runs = new[] { await engine.Client.StartAsync<TwoInstallments>("a"), await engine.Client.StartAsync<TwoInstallments>("b") };
        foreach (var run in runs)
        {
            await Eventually.HoldsAsync(async () => (await run.GetAsync()).Status == RunStatus.Waiting, "the run waits");
        }

        await engine.Client.PublishEventsAsync([new EventToPublish("installment", "a", 1), new EventToPublish("installment", "b", 10)]);
        await Eventually.HoldsAsync(
            async () => (await runs[0].GetStepsAsync()).Count(s => s.Status == StepStatus.Completed) == 1 && (await runs[0].GetAsync()).Status == RunStatus.Waiting,
            "the first wait received its event and the second waits");
        await engine.Client.PublishEventsAsync([new EventToPublish("installment", "a", 2), new EventToPublish("installment", "b", 20)]);

        Assert.Equal("1 then 2", await runs[0].GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("10 then 20", await runs[1].GetResultAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task EventsPublishedWhileRunsReachTheirWaits_AreNeverMissed()
    {
        var probe = new Probe();
        await using var engine = await Engine(probe).StartAsync();
        var orders = Enumerable.Range(0, 40).Select(i => $"race-{i}").ToArray();
        foreach (var order in orders)
        {
            probe.Open("reserve " + order);
        }

        var runs = await Task.WhenAll(orders.Select(o => engine.Client.StartAsync<AwaitPayment>(o)));
        // Published while the runs are anywhere: before their wait, inside it, or waiting already.
        await Task.WhenAll(orders.Select((o, i) => engine.Client.PublishEventAsync("paid", o, new Payment(o, i))));

        var results = await Task.WhenAll(runs.Select(r => r.GetResultAsync(TimeSpan.FromSeconds(60))));
        Assert.Equal(orders.Select((o, i) => $"{o} paid {i}"), results);
    }

    [Fact]
    public async Task BadEvents_AreRefused_AndNoneOfTheCallIsStored()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<TwoInstallments>().StartAsync();
        var key = $"k-{Guid.NewGuid():N}";

        await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.PublishEventsAsync([new EventToPublish("installment", key, 1), new EventToPublish(" ", key)]));
        await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.PublishEventAsync("installment", new string('k', 201)));

        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM {schema}.events WHERE key = $1", key));
    }

    private TrellisBuilder Engine(Probe probe, TimeSpan? timeout = null) =>
        TestEngines.Builder(database, output).AddWorkflow(_ => new AwaitPayment(probe, timeout));
}
