using Microsoft.Extensions.Logging;
using Npgsql;
using Trellis;
using Trellis.Postgres;
using Trellis.TestWorker;

// A worker process for crash tests. Usage:
//   Trellis.TestWorker --schema S --worker-id W [--lease-ms 2000] [--slots 8] [--poll-ms 100] [--claim-window-ms 50]
// The connection string comes from TRELLIS_DATABASE_URL. Prints "ready" once it is claiming work and
// runs until it is killed or its standard input is closed.
var settings = Arguments.Parse(args);
var connectionString = ConnectionStrings.FromEnvironment() ?? throw new InvalidOperationException("TRELLIS_DATABASE_URL is not set.");
var schema = SchemaName.Parse(settings["schema"]);
var workerId = settings["worker-id"];
var lease = TimeSpan.FromMilliseconds(int.Parse(settings.GetValueOrDefault("lease-ms", "2000"), System.Globalization.CultureInfo.InvariantCulture));

await using var logDataSource = NpgsqlDataSource.Create(ConnectionStrings.Normalize(connectionString));
var bodyLog = new BodyLog(logDataSource, schema, workerId);
// Npgsql logs every command at Information; a failing test prints this output, which should show the worker's story.
using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true)
    .SetMinimumLevel(LogLevel.Information).AddFilter("Npgsql", LogLevel.Warning));

await using var engine = await TrellisEngine.Create()
    .UsePostgres(connectionString, pg => pg.Schema = schema.Name)
    .AddWorkflow(_ => new SequentialSteps(bodyLog))
    .AddWorkflow(_ => new PerItemSteps(bodyLog))
    .AddWorkflow(_ => new StepFreeHold(bodyLog))
    .AddWorkflow(_ => new PoisonPill(bodyLog))
    .AddWorkflow(_ => new SoakWorkflow(bodyLog))
    .AddWorkflow(_ => new FanOutParent(bodyLog))
    .AddWorkflow(_ => new SquareChild(bodyLog))
    .UseLoggerFactory(loggerFactory)
    .ConfigureWorker(w =>
    {
        w.WorkerId = workerId;
        w.LeaseDuration = lease;
        w.HeartbeatInterval = lease / 4;
        w.MaxConcurrentRuns = int.Parse(settings.GetValueOrDefault("slots", "8"), System.Globalization.CultureInfo.InvariantCulture);
        w.PollInterval = TimeSpan.FromMilliseconds(int.Parse(settings.GetValueOrDefault("poll-ms", "100"), System.Globalization.CultureInfo.InvariantCulture));
        w.ShutdownTimeout = TimeSpan.FromSeconds(5);
        w.ClaimWindow = TimeSpan.FromMilliseconds(int.Parse(settings.GetValueOrDefault("claim-window-ms", "50"), System.Globalization.CultureInfo.InvariantCulture));
    })
    .StartAsync();

Console.WriteLine("ready");
await Task.Run(() => Console.In.ReadToEnd());
await engine.StopAsync();

internal static class Arguments
{
    public static Dictionary<string, string> Parse(string[] args)
    {
        var parsed = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            parsed[args[i].TrimStart('-')] = args[i + 1];
        }

        foreach (var required in new[] { "schema", "worker-id" })
        {
            if (!parsed.ContainsKey(required))
            {
                throw new ArgumentException($"--{required} is required.");
            }
        }

        return parsed;
    }
}
