using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Trellis.Hosting.Tests;

public sealed class RegistrationTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private sealed class Noop : Workflow<int, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, int input) => Task.FromResult(input);
    }

    [Fact]
    public void AddTrellis_CalledTwice_ThrowsInvalidOperationException()
    {
        var services = new ServiceCollection();
        services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<Noop>());
        var registrations = services.Count;

        var error = Assert.Throws<InvalidOperationException>(() => services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<Noop>()));

        Assert.Contains("AddTrellis", error.Message, StringComparison.Ordinal);
        Assert.Equal(registrations, services.Count);
    }

    [Fact]
    public async Task StartAsync_NoStoreConfigured_FailsNamingUsePostgres()
    {
        var builder = TestHosts.Builder(output);
        builder.Services.AddTrellis(t => t.AddWorkflow<Noop>());
        await using var host = builder.BuildTestHost();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(timeout.Token));

        Assert.Contains("UsePostgres", error.Message, StringComparison.Ordinal);
    }
}
