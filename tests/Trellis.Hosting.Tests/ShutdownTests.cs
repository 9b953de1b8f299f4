using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Trellis.Hosting.Tests;

public sealed class ShutdownTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>A gate the step waits on without looking at its cancellation token.</summary>
    public sealed class Gate
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class IgnoresToken(Gate gate) : Workflow<string, string>
    {
        public override Task<string> RunAsync(WorkflowContext context, string input) =>
            context.StepAsync("stuck", async _ =>
            {
                gate.Entered.TrySetResult();
                await gate.Open.Task; // ignores the token on purpose
                return input;
            });
    }

    [Fact]
    public async Task StopAsync_StepIgnoresTokenPastShutdownTimeout_RunIsReleasedToTheQueue()
    {
        var gate = new Gate();
        var builder = TestHosts.Builder(output);
        builder.Services.AddSingleton(gate);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database)
            .AddWorkflow<IgnoresToken>()
            .ConfigureWorker(w => w.ShutdownTimeout = TimeSpan.FromMilliseconds(300)));
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            await host.WaitUntilMigratedAsync();
            var client = host.Services.GetRequiredService<TrellisClient>();
            var run = await client.StartAsync<IgnoresToken>("x");
            await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("running", await database.ScalarAsync<string>("SELECT status FROM {schema}.runs WHERE id = $1", run.RunId));

            var stopwatch = Stopwatch.StartNew();
            using (var timeout = new CancellationTokenSource(TestHosts.StopTimeout))
            {
                await host.StopAsync(timeout.Token);
            }

            stopwatch.Stop();
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"The host took {stopwatch.Elapsed} to stop.");
            var row = Assert.Single(await database.RowsAsync("SELECT status, locked_by FROM {schema}.runs WHERE id = $1", run.RunId));
            Assert.Equal("pending", row[0]);
            Assert.Null(row[1]);
            Assert.False(gate.Open.Task.IsCompleted);
            var info = await run.GetAsync();
            Assert.Equal((RunStatus.Pending, (string?)null), (info.Status, info.LockedBy));
        }
        finally
        {
            gate.Open.TrySetResult(); // lets the abandoned step body end
            await host.StopAndDisposeAsync();
        }
    }

    [Fact]
    public async Task StopAsync_RunFinishesWithinShutdownTimeout_RunCompletes()
    {
        var gate = new Gate();
        var builder = TestHosts.Builder(output);
        builder.Services.AddSingleton(gate);
        builder.Services.AddTrellis(t => t.UseTestDatabase(database).AddWorkflow<IgnoresToken>());
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            await host.WaitUntilMigratedAsync();
            var client = host.Services.GetRequiredService<TrellisClient>();
            var run = await client.StartAsync<IgnoresToken>("done");
            await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));

            using var timeout = new CancellationTokenSource(TestHosts.StopTimeout);
            var stopping = host.StopAsync(timeout.Token);
            await Task.Delay(200);
            Assert.False(stopping.IsCompleted, "The host stopped without waiting for the run in flight.");
            gate.Open.TrySetResult();
            await stopping;

            var row = Assert.Single(await database.RowsAsync("SELECT status, locked_by, output FROM {schema}.runs WHERE id = $1", run.RunId));
            Assert.Equal("completed", row[0]);
            Assert.Null(row[1]);
            Assert.Equal("\"done\"", row[2]);
        }
        finally
        {
            gate.Open.TrySetResult();
            await host.StopAndDisposeAsync();
        }
    }
}
