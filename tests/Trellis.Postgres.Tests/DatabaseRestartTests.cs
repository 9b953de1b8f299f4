using Microsoft.Extensions.Logging;
using Trellis.Postgres.Embedded;

namespace Trellis.Postgres.Tests;

/// <summary>PostgreSQL restarts (immediate mode, like a crash) in the middle of 200 runs.</summary>
public sealed class DatabaseRestartTests(ITestOutputHelper output)
{
    private sealed class ThreeSlowSteps : Workflow<int, int>
    {
        public override async Task<int> RunAsync(WorkflowContext context, int input)
        {
            var value = input;
            for (var i = 0; i < 3; i++)
            {
                value = await context.StepAsync($"step-{i}", async ct =>
                {
                    // With 16 slots the 200 runs take at least 1.9 s, well past the loop that starts them (0.3-1 s
                    // here), so the restart comes in the middle of the work.
                    await Task.Delay(50, ct);
                    return value + 1;
                });
            }

            return value;
        }
    }

    [Fact]
    public async Task Restart_InTheMiddleOfTwoHundredRuns_EveryRunCompletes()
    {
        // A server of its own: restarting the shared one would disturb the other test classes.
        var dataDirectory = EmbeddedPostgres.DefaultDataDirectory($"test-restart-{Guid.NewGuid():N}"[..22]);
        await using var server = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { DataDirectory = dataDirectory });
        try
        {
            var builder = TrellisEngine.Create()
                .UsePostgres(server.ConnectionString, pg => (pg.Schema, pg.ReadEnvironment) = ("restart", false))
                .AddWorkflow<ThreeSlowSteps>()
                .Configure(o => o.ResultPollInterval = TimeSpan.FromMilliseconds(250))
                .ConfigureWorker(w =>
                {
                    w.MaxConcurrentRuns = 16;
                    w.PollInterval = TimeSpan.FromMilliseconds(100);
                    w.LeaseDuration = TimeSpan.FromSeconds(5);
                });
            builder.UseLoggerFactory(LoggerFactory.Create(b => b.AddProvider(new XunitLoggerProvider(output))));
            await using var engine = await builder.StartAsync();

            var ids = new List<string>();
            for (var i = 0; i < 200; i++)
            {
                ids.Add((await engine.Client.StartAsync<ThreeSlowSteps>(i)).RunId);
            }

            await using var probe = Npgsql.NpgsqlDataSource.Create(server.ConnectionString);
            async Task<long> CountAsync(string status)
            {
                await using var command = probe.CreateCommand("SELECT count(*) FROM restart.runs WHERE status = $1");
                command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = status });
                return (long)(await command.ExecuteScalarAsync())!;
            }

            await Eventually.HoldsAsync(async () => await CountAsync("completed") >= 20, "some runs have completed");
            var completedBefore = await CountAsync("completed");
            Assert.True(completedBefore < 200, "the restart must come in the middle of the work");

            await server.RestartAsync(immediate: true);

            await Eventually.HoldsAsync(
                async () =>
                {
                    try
                    {
                        return await CountAsync("completed") == 200;
                    }
                    catch (Npgsql.NpgsqlException)
                    {
                        return false; // the probe's own pooled connections broke in the restart
                    }
                },
                "all 200 runs have completed",
                TimeSpan.FromSeconds(120));

            for (var i = 0; i < ids.Count; i++)
            {
                Assert.Equal(i + 3, await engine.Client.GetHandle<ThreeSlowSteps>(ids[i]).GetResultAsync(TimeSpan.FromSeconds(10)));
            }

            Assert.Equal(0, await CountAsync("running"));
            Assert.Equal(0, await CountAsync("failed"));
            await using var steps = probe.CreateCommand("SELECT count(*) FROM restart.steps WHERE status = 'completed'");
            Assert.Equal(600L, (long)(await steps.ExecuteScalarAsync())!);
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(dataDirectory, recursive: true);
            File.Delete(server.LogFile);
            File.Delete(dataDirectory + ".lock");
        }
    }
}
