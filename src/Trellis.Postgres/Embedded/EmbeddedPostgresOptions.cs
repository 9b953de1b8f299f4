namespace Trellis.Postgres.Embedded;

/// <summary>Where an <see cref="EmbeddedPostgres"/> server keeps its data and how it is started.</summary>
public sealed class EmbeddedPostgresOptions
{
    /// <summary>The cluster's folder; created and initialised with <c>initdb</c> when it holds no cluster yet.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The loopback port to listen on; <see langword="null"/> picks a free one.</summary>
    public int? Port { get; init; }

    /// <summary>The database the <see cref="EmbeddedPostgres.ConnectionString"/> points at; created when missing.</summary>
    public string Database { get; init; } = "trellis";

    /// <summary>Extra server settings, passed as <c>-c name=value</c> (for example <c>max_connections=300</c>).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>How long starting, restarting or stopping the server (and each tool it runs) may take.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
