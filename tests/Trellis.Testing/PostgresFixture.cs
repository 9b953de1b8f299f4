using Npgsql;
using Trellis.Postgres;

namespace Trellis.Testing;

/// <summary>A schema of its own for one test class, dropped when the class is done.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = "";
    public SchemaName Schema { get; private set; } = null!;
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ConnectionString = await TestDatabase.GetConnectionStringAsync();
        Schema = SchemaName.Parse($"t_{Guid.NewGuid():N}"[..14]);
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await using (var drop = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS {Schema.Quoted} CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await DataSource.DisposeAsync();
    }

    /// <summary>A store on this class's schema with a data source of its own, set up as Trellis sets up its connections.</summary>
    public PostgresStore NewStore(int? maxPoolSize = null) =>
        new(new PostgresStoreOptions { ConnectionString = ConnectionString, Schema = Schema.Name, ReadEnvironment = false, MaxPoolSize = maxPoolSize });

    /// <summary>
    /// Migrates this class's schema and, the first time only, runs <paramref name="seedSql"/> in it: xunit makes an
    /// instance of the test class per test, and a class's tables are filled once.
    /// </summary>
    public async Task MigrateAndSeedOnceAsync(string seedSql)
    {
        await using (var store = NewStore())
        {
            await store.MigrateAsync();
        }

        if (await ScalarAsync<long>("SELECT count(*) FROM {schema}.runs") == 0)
        {
            await ScalarAsync<int>(seedSql);
        }
    }

    /// <summary>Runs a query in this class's schema and returns the first column of the first row.</summary>
    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", Schema.Quoted, StringComparison.Ordinal));
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Runs a query in this class's schema and returns every row as an array of column values.</summary>
    public async Task<List<object?[]>> RowsAsync(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{schema}", Schema.Quoted, StringComparison.Ordinal));
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }
}
