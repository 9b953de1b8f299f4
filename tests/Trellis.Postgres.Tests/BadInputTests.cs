namespace Trellis.Postgres.Tests;

public sealed class BadInputTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    public sealed record PageJob(string Folder, int Pages);

    private sealed class CountPages : Workflow<PageJob, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, PageJob input) => Task.FromResult(input.Pages);
    }

    /// <summary>Takes no job at all as well: its input is declared nullable.</summary>
    private sealed class MaybeCountPages : Workflow<PageJob, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, PageJob? input) => Task.FromResult(input?.Pages ?? 0);
    }

    /// <summary>Opts out of the strict check: any JSON that deserializes is an input.</summary>
    [Workflow(StrictInput = false)]
    private sealed class LenientCountPages : Workflow<PageJob, int>
    {
        public override Task<int> RunAsync(WorkflowContext context, PageJob input) => Task.FromResult(input.Pages);
    }

    private async Task<TrellisEngine> ClientAsync(int? maxInputBytes = null)
    {
        var builder = TestEngines.Builder(database, output).AddWorkflow<CountPages>().AddWorkflow<MaybeCountPages>().AddWorkflow<LenientCountPages>();
        builder.Options.Worker.Enabled = false;
        if (maxInputBytes is { } limit)
        {
            builder.Options.MaxInputBytes = limit;
        }

        return await builder.StartAsync();
    }

    private Task<long> RunCountAsync() => database.ScalarAsync<long>("SELECT count(*) FROM {schema}.runs");

    [Fact]
    public async Task StartAsync_UnknownWorkflowName_ThrowsAndStoresNothing()
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        var error = await Assert.ThrowsAsync<UnknownWorkflowException>(() => engine.Client.StartJsonAsync("NoSuchWorkflow", "{}"));

        Assert.Contains("NoSuchWorkflow", error.Message, StringComparison.Ordinal);
        Assert.Contains("CountPages", error.Message, StringComparison.Ordinal); // lists what is registered
        Assert.Equal(before, await RunCountAsync());
    }

    [Fact]
    public async Task CreateRunBatch_AnIdThatExists_FailsTheWholeBatchAndStoresNothing()
    {
        await using var engine = await ClientAsync();
        var existing = (await engine.Client.StartAsync<CountPages>(new PageJob("a", 1))).RunId;
        var before = await RunCountAsync();
        await using var store = database.NewStore();

        // The bulk enqueue inserts without "ON CONFLICT": its ids are generated, so one that exists is a bug, not a retry.
        var batch = new Storage.NewRunBatch(
            "CountPages", 1, "default", 0, [Guid.CreateVersion7().ToString(), existing], ["{}", "{}"], null, RunInfo.EmptyTags, 3, null, null);
        var error = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => store.CreateRunBatchAsync(batch));

        Assert.Equal(Npgsql.PostgresErrorCodes.UniqueViolation, error.SqlState);
        Assert.Equal(before, await RunCountAsync());
    }

    [Fact]
    public async Task StartJsonAsync_InputNotOfTheWorkflowsInputType_ThrowsAndStoresNothing()
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        var error = await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartJsonAsync("CountPages", """{"folder": "a", "pages": "many"}"""));

        Assert.Contains("PageJob", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await RunCountAsync());
    }

    [Theory]
    [InlineData("null", "not null")]
    [InlineData(""" {"foo": 1} """, "$.foo")] // a member PageJob does not have, and none of those it has
    [InlineData("""{"folder": "a", "pages": 2, "foo": 1}""", "$.foo")]
    [InlineData("""{"pages": 2}""", "folder")] // a required constructor parameter missing
    [InlineData("""{"folder": null, "pages": 2}""", "folder")] // null where the type says non-null
    public async Task StartJsonAsync_InputThatDoesNotFitStrictly_ThrowsNamingWhereAndStoresNothing(string json, string named)
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        var error = await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartJsonAsync("CountPages", json));

        Assert.Contains(named, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await RunCountAsync());
    }

    [Fact]
    public async Task StartAsync_NullInput_IsRefusedUnlessTheWorkflowDeclaresItsInputNullable()
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        var error = await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartAsync<CountPages>(null));
        Assert.Contains("not null", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartManyAsync<CountPages>([new PageJob("a", 1), null]));
        Assert.Equal(before, await RunCountAsync());

        await engine.Client.StartAsync<MaybeCountPages>(null);
        await engine.Client.StartJsonAsync(nameof(MaybeCountPages), "null");
        Assert.Equal(before + 2, await RunCountAsync());
    }

    [Fact]
    public async Task StartJsonAsync_WorkflowThatOptsOutOfTheStrictCheck_TakesExtraAndMissingMembers()
    {
        await using var engine = await ClientAsync();

        await engine.Client.StartJsonAsync(nameof(LenientCountPages), """{"folder": "a", "pages": 2, "foo": 1}""");
        await engine.Client.StartJsonAsync(nameof(LenientCountPages), """{"pages": 2}""");
        await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartJsonAsync(nameof(LenientCountPages), "null"));
        await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartJsonAsync(nameof(LenientCountPages), """{"pages": "many"}"""));
    }

    [Fact]
    public async Task StartJsonAsync_NotJson_ThrowsAndStoresNothing()
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartJsonAsync("CountPages", "{folder: "));

        Assert.Equal(before, await RunCountAsync());
    }

    [Fact]
    public async Task StartAsync_InputOfAnotherClrType_ThrowsAndStoresNothing()
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        var error = await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartAsync<CountPages>("not a PageJob"));

        Assert.Contains("PageJob", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await RunCountAsync());
    }

    [Fact]
    public async Task StartAsync_InputOverTheSizeLimit_ThrowsAndStoresNothing()
    {
        await using var engine = await ClientAsync(maxInputBytes: 1024);
        var before = await RunCountAsync();

        var error = await Assert.ThrowsAsync<InvalidRunInputException>(() => engine.Client.StartAsync<CountPages>(new PageJob(new string('x', 2000), 1)));

        Assert.Contains("1,024", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await RunCountAsync());
        // Under the limit the same workflow starts fine.
        await engine.Client.StartAsync<CountPages>(new PageJob("small", 1));
        Assert.Equal(before + 1, await RunCountAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData(" padded ")]
    [InlineData("line\nbreak")]
    public async Task StartAsync_InvalidRunId_ThrowsAndStoresNothing(string runId)
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.StartAsync<CountPages>(new PageJob("a", 1), new StartOptions { RunId = runId }));

        Assert.Equal(before, await RunCountAsync());
    }

    [Fact]
    public async Task EveryClientCall_RefusesAnInvalidRunId_BeforeAnySql()
    {
        await using var engine = await ClientAsync();
        var client = engine.Client;
        const string Bad = "nul\0char";

        Assert.Throws<ArgumentException>(() => client.GetHandle(Bad));
        Assert.Throws<ArgumentException>(() => client.GetHandle<CountPages>(Bad));
        foreach (var call in new Func<Task>[]
        {
            () => client.GetRunAsync(Bad),
            () => client.GetStepsAsync(Bad),
            () => client.GetHistoryAsync(Bad),
            () => client.CancelAsync(Bad),
            () => client.ResumeAsync(Bad),
            () => client.WaitForOutcomeAsync(Bad),
            () => client.StartAsync<CountPages>(new PageJob("a", 1), new StartOptions { RunId = Bad }),
        })
        {
            var error = await Assert.ThrowsAsync<ArgumentException>(call);
            Assert.Contains("not a run id", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task StartAsync_QueueNameThatIsNotOne_ThrowsAndStoresNothing()
    {
        await using var engine = await ClientAsync();
        var before = await RunCountAsync();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => engine.Client.StartAsync<CountPages>(new PageJob("a", 1), new StartOptions { Queue = "my queue; drop" }));

        Assert.Contains("StartOptions.Queue", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await RunCountAsync());
        Assert.Throws<ArgumentException>(() => TestEngines.Builder(database).ConfigureWorker(w => w.Queues = ["ok", "not ok"]).Build());
    }

    [Theory]
    [InlineData("x; drop table y")]
    [InlineData("Trellis")]
    [InlineData("pg_trellis")]
    [InlineData("\"quoted\"")]
    [InlineData("1abc")]
    public async Task UsePostgres_HostileOrInvalidSchemaName_IsRejectedBeforeAnySql(string schema)
    {
        var error = Assert.Throws<ArgumentException>(() => SchemaName.Parse(schema));
        Assert.Contains("not a valid schema name", error.Message, StringComparison.Ordinal);

        var builder = TrellisEngine.Create().UsePostgres(database.ConnectionString, pg => pg.Schema = schema).AddWorkflow<CountPages>();
        Assert.Throws<ArgumentException>(() => builder.Build());
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema));
    }
}
