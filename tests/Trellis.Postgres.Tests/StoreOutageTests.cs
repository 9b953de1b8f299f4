using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Trellis.Diagnostics;

namespace Trellis.Postgres.Tests;

/// <summary>What the engine counts as the database being away (one outage, logged once) and what it does not.</summary>
public sealed class StoreOutageTests
{
    [Fact]
    public async Task ALockConflict_IsNoOutage_ADatabaseThatCannotBeReachedIs()
    {
        using var outage = new StoreOutage(_ => Task.CompletedTask, e => ErrorClassifier.Classify(e) == ErrorKind.Transient, TimeProvider.System, NullLogger.Instance);

        // Transient (the caller tries again), but the database answered: the caller's own warning says what happened.
        Assert.False(outage.Absorb(new PostgresException("deadlock detected", "ERROR", "ERROR", PostgresErrorCodes.DeadlockDetected), "claiming runs"));
        Assert.False(outage.Absorb(new PostgresException("could not serialize access", "ERROR", "ERROR", PostgresErrorCodes.SerializationFailure), "claiming runs"));
        Assert.False(outage.IsDown);

        // Nothing listens on port 1: the connection is refused, as when the server is down.
        await using var nowhere = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Timeout=5");
        var refused = await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await (await nowhere.OpenConnectionAsync()).DisposeAsync());
        Assert.True(outage.Absorb(refused, "claiming runs"));
        Assert.True(outage.IsDown);
    }
}
