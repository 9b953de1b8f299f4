using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Maintenance;

namespace Trellis.Postgres.Tests;

/// <summary>
/// A maintenance service that must run on one worker at a time runs on the holder of the leader lease, a row in the
/// database (the store's side of it is in the conformance suite): one engine of many runs it, another takes over at once when the holder stops, and a lease's end after a
/// holder died; a holder paused past its lease does not act before the store confirms it again.
/// </summary>
public sealed class LeaderLeaseTests(PostgresFixture database, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    /// <summary>Notes the engine it ran in, every round.</summary>
    private sealed class CountingService(string engine, ConcurrentQueue<string> rounds) : MaintenanceService
    {
        public override string Name => "counting";
        public override TimeSpan Interval => TimeSpan.FromMilliseconds(20);
        public override bool RunsOnLeader => true;

        public override Task RunOnceAsync(CancellationToken cancellationToken)
        {
            rounds.Enqueue(engine);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task BadArguments_AreRefused_AndWriteNothing()
    {
        await using var store = database.NewStore();
        await store.MigrateAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.TryHoldLeaderLeaseAsync(" ", "a", TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<ArgumentException>(() => store.TryHoldLeaderLeaseAsync("n", "", TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.TryHoldLeaderLeaseAsync("n", "a", TimeSpan.Zero));
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM " + database.Schema.Quoted + ".leader_leases WHERE name IN (' ', 'n')"));
    }

    [Fact]
    public async Task ALeaderService_RunsOnOneEngineOfTwo_AndOnTheOtherOnceTheFirstStops()
    {
        var rounds = new ConcurrentQueue<string>();
        var queue = TestEngines.NewQueue();
        TrellisBuilder Engine(string name) => TestEngines.Builder(database, output, queue)
            .ConfigureWorker(w => w.WorkerId = name)
            .AddMaintenance(_ => new CountingService(name, rounds));

        await using var first = await Engine("first").StartAsync();
        await Eventually.HoldsAsync(() => rounds.Count >= 3, "the leader service ran");
        await using var second = await Engine("second").StartAsync();

        // While the first holds the lease, the second never runs the service, though it keeps trying to take the lease.
        var seen = rounds.Count;
        await Eventually.HoldsAsync(() => rounds.Count >= seen + 10, "the leader service went on");
        Assert.Equal(["first"], rounds.Distinct());

        // The first gives the lease up as it stops: the second takes it on its next try, well before the lease's end.
        await first.StopAsync();
        await Eventually.HoldsAsync(() => rounds.Contains("second"), "the second engine took over");
        var holder = await database.ScalarAsync<string>(
            "SELECT holder FROM " + database.Schema.Quoted + ".leader_leases WHERE name = $1", LeaderLease.MaintenanceLeaseName);
        Assert.StartsWith("second#", holder);
    }

    [Fact]
    public async Task AHolderPausedPastItsLease_DoesNotActAsTheLeader_UntilTheStoreConfirmsItAgain()
    {
        await using var store = database.NewStore();
        await store.MigrateAsync();
        var clock = new PausableClock();
        var name = $"paused-{Guid.NewGuid():N}";
        var lease = new LeaderLease(store, name, "paused", TimeSpan.FromSeconds(30), clock, NullLogger.Instance);
        await lease.RenewAsync(CancellationToken.None);
        Assert.True(lease.IsHeld);

        clock.Pause(TimeSpan.FromSeconds(31));
        Assert.False(lease.IsHeld);

        // Nobody took it meanwhile: the next renewal confirms it.
        await lease.RenewAsync(CancellationToken.None);
        Assert.True(lease.IsHeld);

        // Another holder takes it once it ran out in the store: this holder's next renewal finds it gone.
        Assert.Equal(1, await database.ScalarAsync<int>(
            "UPDATE " + database.Schema.Quoted + ".leader_leases SET expires_at = now() - interval '1 second' WHERE name = $1 RETURNING 1", name));
        Assert.True(await store.TryHoldLeaderLeaseAsync(name, "other", TimeSpan.FromSeconds(30)));
        await lease.RenewAsync(CancellationToken.None);
        Assert.False(lease.IsHeld);
    }
}
