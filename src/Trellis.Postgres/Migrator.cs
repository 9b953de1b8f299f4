using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Trellis.Postgres;

/// <summary>One forward-only migration, embedded in the assembly as <c>Migrations/NNN_name.sql</c>.</summary>
internal sealed record Migration(int Version, string Name, string Sql, string Checksum);

/// <summary>
/// Applies the embedded migrations that a schema has not had yet. All of it happens in one
/// transaction under an advisory lock keyed by the schema, so any number of processes may start at
/// once: the first migrates, the others wait, then find nothing left to do. Applied migrations are
/// recorded in <c>schema_migrations</c> with a checksum; an applied migration whose text changed is refused.
/// </summary>
internal sealed class Migrator(NpgsqlDataSource dataSource, SchemaName schema)
{
    private const string ResourcePrefix = "Trellis.Postgres.Migrations.";

    private static readonly Lazy<IReadOnlyList<Migration>> Embedded = new(LoadEmbedded);

    public static IReadOnlyList<Migration> All => Embedded.Value;

    public static int LatestVersion => All[^1].Version;

    /// <summary>Applies what is missing; returns the versions this call applied.</summary>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Trellis's connections run with sequential scans off (PostgresStore.SessionSetup), which suits its
        // key lookups; a migration that rewrites or checks whole tables needs them back, for this transaction.
        await ExecuteAsync(
            connection,
            "SELECT set_config('enable_seqscan', 'on', true), pg_advisory_xact_lock(hashtext($1))",
            cancellationToken,
            $"trellis.migrate:{schema.Name}").ConfigureAwait(false);
        await ExecuteAsync(connection, $"CREATE SCHEMA IF NOT EXISTS {schema.Quoted}", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, $"""
            CREATE TABLE IF NOT EXISTS {schema.Quoted}.schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, cancellationToken).ConfigureAwait(false);

        var applied = new Dictionary<int, string>();
        await using (var command = new NpgsqlCommand($"SELECT version, checksum FROM {schema.Quoted}.schema_migrations", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                applied[reader.GetInt32(0)] = reader.GetString(1);
            }
        }

        if (applied.Count == 0)
        {
            await RefuseForeignTablesAsync(connection, cancellationToken).ConfigureAwait(false);
        }

        var newlyApplied = new List<int>();
        foreach (var migration in All)
        {
            if (applied.TryGetValue(migration.Version, out var checksum))
            {
                if (checksum != migration.Checksum)
                {
                    throw new TrellisException(
                        $"Migration {migration.Version} ({migration.Name}) in schema '{schema.Name}' was applied with a different text than this version of Trellis has. "
                        + "Applied migrations must never change; add a new migration instead.");
                }

                continue;
            }

            await ExecuteAsync(connection, migration.Sql.Replace("{schema}", schema.Quoted, StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(
                connection,
                $"INSERT INTO {schema.Quoted}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                cancellationToken,
                migration.Version,
                migration.Name,
                migration.Checksum).ConfigureAwait(false);
            newlyApplied.Add(migration.Version);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return newlyApplied;
    }

    /// <summary>
    /// A schema Trellis has not migrated yet must not hold tables of the names Trellis creates: they belong to someone
    /// else, and the first migration would fail on them half-way with a bare "relation already exists".
    /// </summary>
    private async Task RefuseForeignTablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT string_agg(table_name, ', ' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = $1 AND table_name = ANY($2)",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema.Name });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = TableNames });
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string taken)
        {
            throw new StoreConfigurationException(
                $"Schema '{schema.Name}' already holds tables that Trellis did not create ({taken}), and Trellis needs those names. "
                + "Give Trellis a schema of its own: PostgresStoreOptions.Schema, or TRELLIS_SCHEMA. Nothing was changed.",
                "PostgresStoreOptions.Schema");
        }
    }

    /// <summary>The tables the migrations create.</summary>
    private static readonly string[] TableNames = ["runs", "steps", "workflow_definitions", "claim_windows", "history"];

    /// <summary>The highest applied version, or null when the schema has never been migrated.</summary>
    public async Task<int?> GetAppliedVersionAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE 1 END");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"{schema.Quoted}.schema_migrations" });
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is DBNull or null)
        {
            return null;
        }

        await using var max = dataSource.CreateCommand($"SELECT max(version) FROM {schema.Quoted}.schema_migrations");
        return await max.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is int version ? version : null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(Migrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            var fileName = resource[ResourcePrefix.Length..^4];
            var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(fileName[..underscore], out var version))
            {
                throw new InvalidOperationException($"Migration resource '{resource}' is not named NNN_name.sql.");
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var sql = reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
            var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            migrations.Add(new Migration(version, fileName[(underscore + 1)..], sql, checksum));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        // Numbers may skip one reserved by a branch not merged yet (017, telemetry, while 018 is retention); never repeat.
        for (var i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version < 1 || (i > 0 && migrations[i].Version == migrations[i - 1].Version))
            {
                throw new InvalidOperationException($"Migrations must be numbered from 1 up, each number once; found {migrations[i].Version} at position {i + 1}.");
            }
        }

        return migrations;
    }
}
