using System.Globalization;
using Trellis.Postgres;

namespace Trellis.Bench;

/// <summary>A workload name and its <c>--name value</c> settings.</summary>
internal sealed record BenchOptions(string Workload, string DbUrl, Dictionary<string, string> Values, string? Out)
{
    public int Int(string name, int fallback) =>
        Values.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

    public static BenchOptions Parse(string[] args)
    {
        if (args.Length == 0)
        {
            throw new ArgumentException("usage: Trellis.Bench w1|w2|w3|w4 --db-url URL [--n N] [--concurrency C] [--samples S] [--width W] [--out FILE]");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        var url = values.GetValueOrDefault("db-url") ?? ConnectionStrings.FromEnvironment()
            ?? throw new ArgumentException("--db-url (or TRELLIS_DATABASE_URL) is required.");
        return new BenchOptions(args[0], url, values, values.GetValueOrDefault("out"));
    }
}
