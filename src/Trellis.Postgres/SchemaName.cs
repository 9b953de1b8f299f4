using System.Text.RegularExpressions;

namespace Trellis.Postgres;

/// <summary>
/// A validated PostgreSQL schema name. The schema is the only thing ever spliced into Trellis's SQL
/// (identifiers cannot be parameters), so it is checked once here and always used quoted.
/// </summary>
public sealed partial record SchemaName
{
    private SchemaName(string name)
    {
        Name = name;
        Quoted = $"\"{name}\"";
    }

    /// <summary>The name as given, e.g. <c>trellis</c>.</summary>
    public string Name { get; }

    /// <summary>The name as an SQL identifier, e.g. <c>"trellis"</c>.</summary>
    public string Quoted { get; }

    /// <summary>
    /// Accepts a lower-case letter or underscore followed by up to 62 lower-case letters, digits or
    /// underscores, and not starting with <c>pg_</c> (reserved by PostgreSQL).
    /// </summary>
    public static SchemaName Parse(string? name)
    {
        if (string.IsNullOrEmpty(name) || !Identifier().IsMatch(name) || name.StartsWith("pg_", StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"'{name}' is not a valid schema name: use 1–63 characters, lower-case letters, digits and underscores, starting with a letter or underscore, not starting with 'pg_'.",
                nameof(name));
        }

        return new SchemaName(name);
    }

    /// <summary>The schema's name, unquoted.</summary>
    public override string ToString() => Name;

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex Identifier();
}
