using Npgsql;

namespace Trellis.Postgres;

/// <summary>
/// What an operator or a client asks of runs (cancel a family, retry, resume, fork, publish an event) locks rows in an
/// order of its own, which a worker's claim window, holding its runs' rows until it commits, need not share; PostgreSQL
/// then ends one of the two as a deadlock. Each such request is one transaction, rolled back whole, so it is sent
/// again, a few times, after a short random pause, rather than failing the caller.
/// </summary>
internal static class LockConflicts
{
    private const int MaxAttempts = 5;

    public static async Task<T> RetryAsync<T>(Func<Task<T>> request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await request().ConfigureAwait(false);
            }
            catch (PostgresException ex) when (attempt < MaxAttempts
                && ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 25 * attempt)), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
