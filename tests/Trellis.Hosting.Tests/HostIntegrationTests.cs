using Microsoft.Extensions.DependencyInjection;
using Trellis.Storage;

namespace Trellis.Hosting.Tests;

public sealed class HostIntegrationTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    public interface IGreeter
    {
        string Greet(string name);
    }

    private sealed class PoliteGreeter : IGreeter
    {
        public string Greet(string name) => $"Hello, {name}!";
    }

    /// <summary>Needs an <see cref="IGreeter"/> from the container: no parameterless constructor.</summary>
    private sealed class Greet(IGreeter greeter) : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) =>
            context.StepAsync("greet", _ => Task.FromResult(greeter.Greet(input)));
    }

    [Fact]
    public async Task AddTrellis_HostStarted_ClientFromServicesRunsWorkflowWithInjectedDependency()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddSingleton<IGreeter, PoliteGreeter>();
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<Greet>());
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        await host.WaitUntilMigratedAsync();
        var client = host.Services.GetRequiredService<TrellisClient>();

        var run = await client.StartAsync<Greet>("Ada");

        Assert.Equal("Hello, Ada!", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
        var info = await run.GetAsync();
        Assert.Equal(RunStatus.Completed, info.Status);
        var step = Assert.Single(await run.GetStepsAsync());
        Assert.Equal(("greet", StepStatus.Completed), (step.Name, step.Status));
        Assert.Equal("completed", await database.ScalarAsync<string>("SELECT status FROM {schema}.runs WHERE id = $1", run.RunId));
    }

    [Fact]
    public async Task AddTrellis_ServicesResolved_ShareOneEngine()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow(_ => new Greet(new PoliteGreeter())));
        await using var host = builder.BuildTestHost();
        var engine = host.Services.GetRequiredService<TrellisEngine>();

        Assert.Same(engine.Client, host.Services.GetRequiredService<TrellisClient>());
        Assert.Same(engine.Store, host.Services.GetRequiredService<IWorkflowStore>());
        Assert.Same(engine, host.Services.GetRequiredService<TrellisEngine>());
    }

    [Fact]
    public async Task AddTrellis_WorkflowDependencyNotRegistered_RunFailsNamingTheMissingService()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database)
            .Configure(o => o.RunRetry = RetryPolicy.None)
            .AddWorkflow<Greet>());
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        await host.WaitUntilMigratedAsync();
        var client = host.Services.GetRequiredService<TrellisClient>();

        var run = await client.StartAsync<Greet>("Ada");

        var failure = await Assert.ThrowsAsync<RunFailedException>(() => run.GetResultAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(nameof(IGreeter), failure.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Failed, (await run.GetAsync()).Status);
    }
}
