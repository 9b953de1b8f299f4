namespace Trellis.Postgres.Tests;

/// <summary>Typed starts, and what a start with a run id that exists returns.</summary>
public sealed class StartTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    public sealed record Order(string Id, int Quantity);

    public sealed record Receipt(string OrderId, int Total);

    private sealed class PlaceOrder : Workflow<Order, Receipt>
    {
        public override Task<Receipt> RunAsync(WorkflowContext context, Order input) =>
            context.StepAsync("charge", _ => Task.FromResult(new Receipt(input.Id, input.Quantity * 10)));
    }

    [Fact]
    public async Task TypedStart_TakesTheWorkflowsInputType_AndTheResultIsItsOutputType()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<PlaceOrder>().StartAsync();

        // Workflow<PlaceOrder>().StartAsync("not an order") does not compile; nor does reading the result as another type.
        var run = await engine.Client.Workflow<PlaceOrder>().StartAsync(new Order("A-1", 3));
        Receipt receipt = await run.GetResultAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(new Receipt("A-1", 30), receipt);
        Assert.True(run.Created);
        Assert.Equal(nameof(PlaceOrder), (await run.GetAsync()).WorkflowName);
    }

    [Fact]
    public async Task StartWithAnIdThatExists_ReturnsTheExistingRun_SayingItWasNotCreated()
    {
        await using var engine = await ClientAsync();
        var options = new StartOptions { RunId = $"order-{Guid.NewGuid():N}" };

        var first = await engine.Client.Workflow<PlaceOrder>().StartAsync(new Order("A-1", 3), options);
        var again = await engine.Client.Workflow<PlaceOrder>().StartAsync(new Order("B-2", 5), options);

        Assert.Equal((true, false), (first.Created, again.Created));
        Assert.Equal(first.RunId, again.RunId);
        Assert.Contains("A-1", (await again.GetAsync()).InputJson, StringComparison.Ordinal); // the first input stays
        Assert.False(engine.Client.GetHandle(first.RunId).Created);
    }

    [Fact]
    public async Task IfExistsReturnIfSameInput_AnswersTheSameRequestAgain_AndRefusesADifferentOne()
    {
        await using var engine = await ClientAsync();
        var options = new StartOptions { RunId = $"order-{Guid.NewGuid():N}", IfExists = ExistingRun.ReturnIfSameInput };
        await engine.Client.StartJsonAsync(nameof(PlaceOrder), """{"id": "A-1", "quantity": 3}""", options);

        // The same JSON value, written differently: the same request.
        var again = await engine.Client.StartJsonAsync(nameof(PlaceOrder), """{ "quantity": 3,  "id": "A-1" }""", options);
        Assert.False(again.Created);

        var error = await Assert.ThrowsAsync<RunConflictException>(() => engine.Client.StartJsonAsync(nameof(PlaceOrder), """{"id": "A-1", "quantity": 4}""", options));
        Assert.Contains("different input", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"quantity\": 3", (await again.GetAsync()).InputJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IfExistsFail_RefusesAnyStartWithAnIdThatExists()
    {
        await using var engine = await ClientAsync();
        var options = new StartOptions { RunId = $"order-{Guid.NewGuid():N}", IfExists = ExistingRun.Fail };
        var first = await engine.Client.Workflow<PlaceOrder>().StartAsync(new Order("A-1", 3), options);

        var error = await Assert.ThrowsAsync<RunConflictException>(() => engine.Client.Workflow<PlaceOrder>().StartAsync(new Order("A-1", 3), options));

        Assert.True(first.Created);
        Assert.Equal((first.RunId, nameof(PlaceOrder)), (error.RunId, error.ExistingWorkflow));
    }

    private async Task<TrellisEngine> ClientAsync()
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow<PlaceOrder>();
        builder.Options.Worker.Enabled = false;
        return await builder.StartAsync();
    }
}
