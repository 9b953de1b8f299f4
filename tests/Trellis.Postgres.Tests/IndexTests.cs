using Npgsql;

namespace Trellis.Postgres.Tests;

/// <summary>
/// Every hot query is served by an index, checked with EXPLAIN on tables holding many finished runs
/// (as a busy system's tables do) and a backlog of pending ones.
/// </summary>
public sealed class IndexTests(PostgresFixture database) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private PostgresSql _sql = null!;

    // One store (a pool of Trellis's connections, with their session settings) for each test's EXPLAINs.
    private PostgresStore _store = null!;

    public async Task InitializeAsync()
    {
        _sql = new PostgresSql(database.Schema);
        _store = database.NewStore();
        await database.MigrateAndSeedOnceAsync("""
            INSERT INTO {schema}.runs (id, workflow_name, workflow_version, queue, status, input, output, correlation_id, tags,
                                       max_attempts, created_at, completed_at)
            SELECT 'done-' || i, 'Wf' || (i % 20), 1, 'default', CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END,
                   '{}', '{}', 'batch-' || (i / 10), jsonb_build_object('tenant', 't' || (i % 100)), 3,
                   now() - i * interval '1 second', now()
            FROM generate_series(1, 20000) i;
            INSERT INTO {schema}.steps (run_id, seq, name, status, result, attempts, epoch)
            SELECT 'done-' || i, s, 'step-' || s, 'completed', '{}', 1, 1 FROM generate_series(1, 20000) i, generate_series(0, 2) s;
            INSERT INTO {schema}.runs (id, workflow_name, workflow_version, queue, status, input, max_attempts)
            SELECT 'ready-' || i, 'Wf1', 1, 'default', 'pending', '{}', 3 FROM generate_series(1, 5000) i;
            INSERT INTO {schema}.runs (id, workflow_name, workflow_version, queue, status, input, max_attempts, created_at, completed_at)
            SELECT 'rare-' || i, 'Rare', 1, 'default', 'completed', '{}', 3, now() - i * interval '1 hour', now() FROM generate_series(1, 10) i;
            INSERT INTO {schema}.runs (id, workflow_name, workflow_version, queue, status, input, max_attempts, lease_expires_at, epoch)
            SELECT 'busy-' || i, 'Wf1', 1, 'default', 'running', '{}', 3, now() + interval '30 seconds', 1 FROM generate_series(1, 5) i;
            ANALYZE {schema}.runs;
            ANALYZE {schema}.steps;
            """);
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    // Trellis's connections keep one generic plan per statement (PostgresStore.SessionSetup); those plans are checked.
    private Task<string> ExplainAsync(string sql, string parameterTypes, string arguments) =>
        GenericPlans.ExplainAsync(_store.DataSource, parameterTypes, sql, arguments);

    [Fact]
    public async Task Claim_UsesThePartialIndexOfPendingRuns()
    {
        var plan = await ExplainAsync(_sql.Queue.ClaimOneQueue, GenericPlans.ClaimParameters, GenericPlans.ClaimArguments);
        Assert.Contains("Index Scan using runs_ready", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
        // The claimed runs are updated by key. The generic plan expects a tenth of the backlog from "LIMIT $2";
        // joined to that many rows, it merged with a full scan of the primary key on every claim (4k instead
        // of 16k claims/s with a backlog of 200,000).
        Assert.Contains("Index Cond: (id = ANY", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Merge Join", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Hash Join", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClaimWindowOpen_LocksReadyRunsThroughThePartialIndexOfPendingRuns()
    {
        var plan = await ExplainAsync(_sql.ClaimWindows.OpenOneQueue, "text, int, text[], int[]", "'default', 10, '{Wf1}', '{1}'");
        Assert.Contains("LockRows", plan, StringComparison.Ordinal);
        Assert.Contains("Index Scan using runs_ready", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClaimWindowClose_FindsItsRunsByPrimaryKey()
    {
        var plan = await ExplainAsync(
            _sql.ClaimWindows.Close,
            "text[], text[], jsonb[], jsonb[], interval[], text, interval, bigint, text, timestamptz[], interval[], text[]",
            "'{ready-1,ready-2}', '{completed,promote}', '{\"{}\",NULL}', '{NULL,NULL}', '{0,0}', 'w', '30 s', 1, 'channel', '{NULL,NULL}', '{NULL,NULL}', '{NULL,NULL}'");
        Assert.Contains("Index Cond: (id = ANY", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("runs_ready", plan, StringComparison.Ordinal); // not a walk of every pending run
        Assert.DoesNotContain("runs_finished", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LostClaimWindows_AreChargedByPrimaryKey()
    {
        var plan = await ExplainAsync(_sql.Queue.RecoverLostWindows, "int, text", "100, 'channel'");
        Assert.Contains("runs_pkey", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("runs_ready", plan, StringComparison.Ordinal); // not a walk of every pending run
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Hash Join", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpiredLeaseScan_UsesThePartialIndexOfRunningRuns()
    {
        var plan = await ExplainAsync(_sql.Queue.RecoverExpiredLeases, "int, text", "100, 'channel'");
        Assert.Contains("runs_leases", plan, StringComparison.Ordinal);
        Assert.Contains("Index Cond: (id = ANY", plan, StringComparison.Ordinal);
    }

    /// <summary>The waits' statements, each with the index it must read and arguments for its generic plan.</summary>
    public static TheoryData<string, string, string, string> WaitStatements => new()
    {
        // The timer wake-up: due runs and the next one, among the waiting runs only.
        { nameof(TimerSql.WakeDue), "int, text, interval", "100, 'channel', '0'", "runs_waiting" },
        // A publish: the open waits of its names and keys.
        { nameof(EventSql.Publish), "text[], text[], jsonb[], text", "'{paid}', '{o-1}', '{null}', 'channel'", "event_waits_open" },
        // A wait's first look: the events of its name and key.
        { nameof(EventSql.FindEvent), "text, text, timestamptz, text", "'paid', 'o-1', null, 'run-1'", "events_by_name_key" },
    };

    [Theory]
    [MemberData(nameof(WaitStatements))]
    public async Task AWaitStatement_ReadsItsIndex_AndScansNoTable(string statement, string parameters, string arguments, string index)
    {
        var sql = statement == nameof(TimerSql.WakeDue) ? _sql.Timers.WakeDue
            : statement == nameof(EventSql.Publish) ? _sql.Events.Publish
            : _sql.Events.FindEvent;
        var plan = await ExplainAsync(sql, parameters, arguments);
        Assert.Contains(index, plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StepCheckpoint_FindsItsRunsByPrimaryKey()
    {
        // The generic plan cannot see how many rows the arrays hold. It must look the batch's runs up by key,
        // not walk every running run once per written row.
        var plan = await ExplainAsync(
            _sql.Checkpoints.WriteSteps,
            GenericPlans.WriteStepsParameters,
            "'{busy-1}', '{1}', '{0}', '{NULL}', '{s}', '{completed}', '{\"{}\"}', '{NULL}', '{NULL}', '{1}', '{2026-01-01}', '{2026-01-01}'");
        Assert.Contains("$1", plan, StringComparison.Ordinal); // the generic plan, not one made for these values
        Assert.Contains("runs_pkey", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("runs_finished", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("runs_leases", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueueStats_CountEachQueuesReadyRunsInThePartialIndexOfPendingRuns()
    {
        var plan = await ExplainAsync(_sql.QueueStats, "text[]", "'{default,other}'");
        Assert.Contains("runs_ready", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FinishedRunsLookup_UsesThePrimaryKeyOnly()
    {
        var plan = await ExplainAsync(_sql.Runs.GetFinishedRuns, "text[]", "'{done-1,done-2}'");
        Assert.Contains("runs_pkey", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("runs_finished", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_LooksForWaitingWorkInThePartialIndexOfPendingRuns()
    {
        var plan = await ExplainAsync(_sql.Runs.CreateRuns, GenericPlans.CreateRunsParameters, GenericPlans.CreateRunsArguments);
        Assert.Contains("runs_ready", plan, StringComparison.Ordinal);
        Assert.Contains("runs_pkey", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on runs", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StepsOfARun_UseTheCheckpointKey()
    {
        var plan = await ExplainAsync(_sql.Runs.GetSteps, "text", "'done-42'");
        Assert.Contains("steps_key", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
    }

    // The statement ListRunsAsync sends, explained as ListRunsAsync plans it: for its arguments.
    private async Task<string> ExplainListingAsync(RunQuery query)
    {
        var listing = RunListing.Command(database.Schema, query);
        listing.CommandText = "EXPLAIN " + listing.CommandText;
        await using var batch = _store.DataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(RunListing.PlanForArguments));
        batch.BatchCommands.Add(listing);
        var lines = new List<string>();
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                lines.Add(reader.GetString(0));
            }
        }

        return string.Join('\n', lines);
    }

    public static TheoryData<string, RunQuery, string[]> Listings => new()
    {
        // Finished runs by their own indexes; live ones (as many as the backlog) from the live runs' index.
        { "newest first", new RunQuery(), ["runs_live_by_created", "runs_finished_by_created"] },
        { "failed", new RunQuery { Status = RunStatus.Failed }, ["runs_finished_by_status"] },
        { "rare workflow", new RunQuery { WorkflowName = "Rare" }, ["runs_finished_by_workflow", "runs_live_by_created"] },
        { "correlation id", new RunQuery { CorrelationId = "batch-7" }, ["runs_by_correlation"] },
        { "tag", new RunQuery { Tag = new("tenant", "t5") }, ["runs_by_tags"] },
    };

    [Theory]
    [MemberData(nameof(Listings))]
    public async Task ListRuns_IsServedByIndexes(string listing, RunQuery query, string[] indexes)
    {
        var plan = await ExplainListingAsync(query);
        foreach (var index in indexes)
        {
            Assert.True(plan.Contains(index, StringComparison.Ordinal), $"{listing}: {index} not used in\n{plan}");
        }

        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListRuns_NewestFirst_ReadsTheAscendingIndexesBackwardWithoutSorting()
    {
        // The listing indexes are ascending (new entries go to the rightmost leaf: migration 005); newest first is
        // a backward scan of each, merged, with only ties on created_at ordered on the fly.
        var plan = await ExplainListingAsync(new RunQuery());
        Assert.True(plan.Contains("Index Scan Backward using runs_live_by_created", StringComparison.Ordinal), plan);
        Assert.True(plan.Contains("Index Scan Backward using runs_finished_by_created", StringComparison.Ordinal), plan);
        Assert.DoesNotMatch(@"(?m)^\s*(->\s*)?Sort\s+\(cost", plan);
    }

    [Fact]
    public async Task ListRuns_NextPage_ContinuesInBothIndexes()
    {
        var first = await _store.ListRunsAsync(new RunQuery { Limit = 10 });
        var plan = await ExplainListingAsync(new RunQuery { Cursor = first.NextCursor });
        Assert.Contains("runs_live_by_created", plan, StringComparison.Ordinal);
        Assert.Contains("runs_finished_by_created", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListRuns_Running_ReadsTheRunningRunsOnly()
    {
        // Running runs are older than most of the backlog; walking the live runs newest first to find them would
        // read the whole backlog. The lease index holds exactly the running runs (as many as the workers' slots).
        var plan = await ExplainListingAsync(new RunQuery { Status = RunStatus.Running });
        Assert.Contains("runs_leases", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("runs_live_by_created", plan, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RunStatus.Pending)]
    [InlineData(RunStatus.Running)]
    public async Task ListRuns_LiveStatus_ReadsNoFinishedRuns(RunStatus status)
    {
        var plan = await ExplainListingAsync(new RunQuery { Status = status });
        Assert.DoesNotContain("runs_finished", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_FindsOldRootsByTheIndexOfFinishedRoots_AndTheirRowsByKey()
    {
        // Two workflows have an age, the rest are kept (the default is null): only theirs are read.
        var plan = await ExplainAsync(
            _sql.Retention.DeleteOld,
            "text[], interval[], interval, int, interval, timestamptz, text",
            "ARRAY['Wf1', 'Rare'], ARRAY[interval '30 days', interval '1 day'], NULL, 1000, interval '0', NULL, ''");
        Assert.Contains("runs_finished_roots", plan, StringComparison.Ordinal);
        Assert.Contains("history_by_run", plan, StringComparison.Ordinal);
        Assert.Contains("events_messages_by_run", plan, StringComparison.Ordinal);
        Assert.Contains("Index Cond: (parent_id = f_1.id)", plan, StringComparison.Ordinal); // children by parent, never the whole index
        Assert.Contains("Index Cond: (event_id = e.id)", plan, StringComparison.Ordinal); // other waits by event
        Assert.DoesNotContain("events_by_name_key", plan, StringComparison.Ordinal); // events by id, not a scan of the old ones
        Assert.DoesNotContain("Merge Join", plan, StringComparison.Ordinal);
        // The runs, their history and their waits are deleted by key (= ANY), never by joining a whole index with them.
        Assert.Equal(2, plan.Split("Index Cond: (run_id = ANY").Length - 1);
        Assert.DoesNotContain("Hash Cond: (h.run_id", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Hash Cond: (w_2.run_id", plan, StringComparison.Ordinal);
        Assert.Matches(@"Limit[^\n]*\n\s*->\s+Index (Only )?Scan using runs_finished_roots", plan); // old roots in index order, not all read and sorted
        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
    }
}
