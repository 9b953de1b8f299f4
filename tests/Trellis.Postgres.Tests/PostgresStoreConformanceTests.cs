using Trellis.Storage;
using Trellis.Testing.StoreConformance;

namespace Trellis.Postgres.Tests;

/// <summary>The store contract (<see cref="StoreConformanceTests"/>), kept by the PostgreSQL store.</summary>
public sealed class PostgresStoreConformanceTests(PostgresFixture database) : StoreConformanceTests, IClassFixture<PostgresFixture>
{
    protected override async Task<IWorkflowStore> NewStoreAsync()
    {
        var store = database.NewStore();
        await store.MigrateAsync();
        return store;
    }
}
