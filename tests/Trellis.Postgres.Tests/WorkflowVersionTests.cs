namespace Trellis.Postgres.Tests;

/// <summary>Workflows are registered under a name and a version; runs record and keep their version.</summary>
public sealed class WorkflowVersionTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    [Workflow("Greeter", Version = 1)]
    private sealed class GreeterV1 : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => context.StepAsync("greet", _ => Task.FromResult($"v1 hello {input}"));
    }

    [Workflow("Greeter", Version = 2)]
    private sealed class GreeterV2 : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) => context.StepAsync("greet", _ => Task.FromResult($"v2 hello {input}"));
    }

    [Fact]
    public async Task StartJsonAsync_ByName_RunsTheHighestVersionUnlessOneIsChosen()
    {
        await using var engine = await TestEngines.Builder(database, output).AddWorkflow<GreeterV1>().AddWorkflow<GreeterV2>().StartAsync();

        var latest = await engine.Client.StartJsonAsync("Greeter", "\"ann\"");
        var pinned = await engine.Client.StartJsonAsync("Greeter", "\"bob\"", new StartOptions { WorkflowVersion = 1 });

        Assert.Equal("v2 hello ann", await latest.GetResultAsync<string>(TimeSpan.FromSeconds(30)));
        Assert.Equal("v1 hello bob", await pinned.GetResultAsync<string>(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, (await latest.GetAsync()).WorkflowVersion);
        Assert.Equal(1, (await pinned.GetAsync()).WorkflowVersion);
        await Assert.ThrowsAsync<UnknownWorkflowException>(() => engine.Client.StartJsonAsync("Greeter", "\"x\"", new StartOptions { WorkflowVersion = 5 }));
    }

    [Fact]
    public async Task StartJsonAsync_ClientWithoutTheWorkflow_FindsItInDefinitionsWorkersRegistered()
    {
        var queue = $"q{Guid.NewGuid():N}"[..12];
        await using var worker = await TestEngines.Builder(database, output, queue).AddWorkflow<GreeterV1>().AddWorkflow<GreeterV2>().StartAsync();
        var clientBuilder = TestEngines.Builder(database, output, queue);
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync(); // registers no workflows at all

        var run = await client.Client.StartJsonAsync("Greeter", "\"cy\"");

        Assert.Equal("v2 hello cy", await run.GetResultAsync<string>(TimeSpan.FromSeconds(30)));
        var definitions = await database.RowsAsync("SELECT name, version, input_type FROM {schema}.workflow_definitions WHERE name = 'Greeter' ORDER BY version");
        Assert.Equal([1, 2], definitions.Select(d => (int)d[1]!));
        Assert.All(definitions, d => Assert.Equal("System.String", d[2]));
    }

    [Fact]
    public async Task Claim_WorkerWithoutThatVersion_LeavesTheRunForOneThatHasIt()
    {
        var queue = $"q{Guid.NewGuid():N}"[..12];
        await using var oldWorker = await TestEngines.Builder(database, output, queue).AddWorkflow<GreeterV1>().CountingClaims(database, out var claims).StartAsync();
        var clientBuilder = TestEngines.Builder(database, output, queue).AddWorkflow<GreeterV2>();
        clientBuilder.Options.Worker.Enabled = false;
        await using var client = await clientBuilder.StartAsync();

        var run = await client.Client.StartAsync<GreeterV2>("dee");
        await claims.NextAnsweredAsync();
        Assert.Equal(RunStatus.Pending, (await run.GetAsync()).Status);

        await using var newWorker = await TestEngines.Builder(database, output, queue).AddWorkflow<GreeterV2>().StartAsync();
        Assert.Equal("v2 hello dee", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
    }
}
