using Npgsql;

namespace Trellis.Postgres;

/// <summary>Reads connection settings from options, environment variables and URLs.</summary>
public static class ConnectionStrings
{
    /// <summary>
    /// Turns <c>postgres://user:pass@host:port/db?sslmode=require</c> (or <c>postgresql://</c>) into a
    /// key=value connection string; returns other input unchanged.
    /// </summary>
    public static string Normalize(string connectionStringOrUrl)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionStringOrUrl);
        var text = connectionStringOrUrl.Trim();
        if (!text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) && !text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return text;
        }

        var rest = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var builder = new NpgsqlConnectionStringBuilder();

        var query = string.Empty;
        var queryAt = rest.IndexOf('?', StringComparison.Ordinal);
        if (queryAt >= 0)
        {
            query = rest[(queryAt + 1)..];
            rest = rest[..queryAt];
        }

        var database = string.Empty;
        var pathAt = rest.IndexOf('/', StringComparison.Ordinal);
        if (pathAt >= 0)
        {
            database = Uri.UnescapeDataString(rest[(pathAt + 1)..]);
            rest = rest[..pathAt];
        }

        var userInfoAt = rest.LastIndexOf('@');
        if (userInfoAt >= 0)
        {
            var userInfo = rest[..userInfoAt];
            rest = rest[(userInfoAt + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon >= 0 ? userInfo[..colon] : userInfo);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }

        if (rest.Length == 0)
        {
            throw new ArgumentException($"The database URL has no host: '{Redact(text)}'.", nameof(connectionStringOrUrl));
        }

        SetHosts(builder, rest);
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals >= 0 ? pair[..equals] : pair);
            var value = Uri.UnescapeDataString(equals >= 0 ? pair[(equals + 1)..] : "true");
            try
            {
                builder[UrlParameterToKeyword(key)] = value;
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
            {
                throw new ArgumentException($"The database URL parameter '{key}={value}' is not understood: {ex.Message}", nameof(connectionStringOrUrl), ex);
            }
        }

        return builder.ConnectionString;
    }

    /// <summary>The connection string from options or the environment, or null when none is configured.</summary>
    public static string? FromEnvironment() =>
        NonEmpty(Environment.GetEnvironmentVariable("TRELLIS_DATABASE_URL")) ?? NonEmpty(Environment.GetEnvironmentVariable("DATABASE_URL"));

    /// <summary>The connection string without its password, for logs and messages.</summary>
    public static string Redact(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(Normalize(connectionString));
            return $"{builder.Host}:{builder.Port}/{builder.Database}";
        }
        catch (ArgumentException)
        {
            return "(unparseable connection string)";
        }
    }

    /// <summary>One host (with an optional port, IPv6 in brackets), or several, which Npgsql takes as "a:1,b:2".</summary>
    private static void SetHosts(NpgsqlConnectionStringBuilder builder, string hosts)
    {
        if (hosts.Contains(',', StringComparison.Ordinal))
        {
            builder.Host = hosts;
            return;
        }

        var portAt = hosts.LastIndexOf(':');
        var bracketEnd = hosts.LastIndexOf(']');
        if (portAt > bracketEnd && portAt > 0)
        {
            builder.Port = int.TryParse(hosts[(portAt + 1)..], out var port) && port is > 0 and < 65536
                ? port
                : throw new ArgumentException($"The database URL has an invalid port: '{hosts[(portAt + 1)..]}'.");
            hosts = hosts[..portAt];
        }

        builder.Host = hosts.Trim('[', ']');
    }

    private static string UrlParameterToKeyword(string key) => key.ToLowerInvariant() switch
    {
        "sslmode" => "SSL Mode",
        "application_name" => "Application Name",
        "connect_timeout" => "Timeout",
        "options" => "Options",
        "target_session_attrs" => "Target Session Attributes",
        _ => key,
    };

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
