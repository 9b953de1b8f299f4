using System.Text.RegularExpressions;

namespace Trellis.Postgres.Embedded;

/// <summary>Where an <see cref="EmbeddedPostgres"/> server keeps its data and how it is started.</summary>
public sealed partial class EmbeddedPostgresOptions
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

    /// <summary>Throws an <see cref="ArgumentException"/> saying which setting cannot work.</summary>
    internal void Validate()
    {
        var options = this;
        Require(!string.IsNullOrWhiteSpace(options.DataDirectory), "DataDirectory is required.");
        Require(options.Database is not null && IdentifierPattern().IsMatch(options.Database),
            $"'{options.Database}' is not a valid database name: use letters, digits and underscores, starting with a letter or underscore, at most 63 characters.");
        Require(options.Port is null or (>= 1 and <= 65535), $"Port {options.Port} is not between 1 and 65535.");
        Require(options.StartTimeout > TimeSpan.Zero, "StartTimeout must be positive.");
        foreach (var name in options.Settings.Keys)
        {
            Require(SettingNamePattern().IsMatch(name), $"'{name}' is not a valid server setting name.");
        }

        static void Require(bool valid, string problem)
        {
            if (!valid)
            {
                throw new ArgumentException(problem);
            }
        }
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,62}\z")]
    private static partial Regex IdentifierPattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.]*\z")]
    private static partial Regex SettingNamePattern();
}
