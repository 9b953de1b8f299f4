using Microsoft.Extensions.DependencyInjection;

namespace Trellis.Hosting.Tests;

/// <summary>The first start of a host on a fresh schema (this class's only test, so its schema is new).</summary>
public sealed class HostStartTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class Echo : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) =>
            context.StepAsync("echo", _ => Task.FromResult(input));
    }

    /// <summary>
    /// What an application does: start the host, then use the client. The store must be usable once
    /// <c>StartAsync</c> has returned. Fails today: TrellisHostedService migrates in ExecuteAsync, which the
    /// host does not wait for, so the first run is created before the schema exists ("relation ... does not exist").
    /// </summary>
    [Fact]
    public async Task StartAsync_Returned_StoreIsMigratedAndClientUsable()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<Echo>());
        await using var host = builder.BuildTestHost();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<TrellisClient>();

        var run = await client.StartAsync<Echo>("Grace");

        Assert.Equal("Grace", await run.GetResultAsync(TimeSpan.FromSeconds(30)));
    }
}
