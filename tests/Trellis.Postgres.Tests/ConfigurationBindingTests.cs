using System.Collections;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Trellis.Postgres.Tests;

/// <summary>
/// Every setting of <see cref="TrellisOptions"/>, <see cref="WorkerOptions"/>, <see cref="RetentionOptions"/> and <see cref="PostgresStoreOptions"/> that a
/// configuration file can hold is bound from one: a new option with a setter the binder cannot reach fails here.
/// </summary>
public sealed class ConfigurationBindingTests
{
    /// <summary>Settings a configuration file cannot hold: code (delegates), objects, or a reader of the environment.</summary>
    private static readonly HashSet<string> NotConfigurable =
    [
        nameof(TrellisOptions.JsonSerializerOptions), nameof(PostgresStoreOptions.DataSource), nameof(PostgresStoreOptions.EnvironmentReader),
        nameof(RetryPolicy.IsPermanent),
    ];

    [Fact]
    public void TrellisOptions_EverySettingIsBound_WorkerAndRetryPoliciesIncluded()
    {
        var values = new Dictionary<string, string?>();
        var expected = new List<(string Key, Func<TrellisOptions, object?> Read, object Value)>();
        Plan(typeof(TrellisOptions), "", o => o, values, expected);

        var options = new TrellisOptions();
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().Bind(options);

        Assert.True(expected.Count > 25, $"only {expected.Count} settings found");
        Assert.All(expected, e => Assert.True(Equals(e.Value, e.Read(options)), $"{e.Key}: expected {e.Value}, bound {e.Read(options)}"));
        Assert.Equal(new RetryPolicy(), RetryPolicy.Default); // bound into the options' own policies, not the shared defaults
    }

    [Fact]
    public void PostgresStoreOptions_EverySettingIsBound()
    {
        var values = new Dictionary<string, string?>();
        var expected = new List<(string Key, Func<PostgresStoreOptions, object?> Read, object Value)>();
        Plan(typeof(PostgresStoreOptions), "", o => o, values, expected);

        var options = new PostgresStoreOptions();
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().Bind(options);

        Assert.True(expected.Count >= 9, $"only {expected.Count} settings found");
        Assert.All(expected, e => Assert.True(Equals(e.Value, e.Read(options)), $"{e.Key}: expected {e.Value}, bound {e.Read(options)}"));
    }

    /// <summary>Gives every configurable setting under <paramref name="prefix"/> a value other than its default, and records what to expect.</summary>
    private static void Plan<TRoot>(
        Type type, string prefix, Func<TRoot, object?> reach, Dictionary<string, string?> values, List<(string, Func<TRoot, object?>, object)> expected)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (NotConfigurable.Contains(property.Name))
            {
                continue;
            }

            var key = prefix + property.Name;
            var target = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            Func<TRoot, object?> read = root => reach(root) is { } owner ? property.GetValue(owner) : null;
            object? value = target switch
            {
                _ when target == typeof(string) => property.Name.Contains("Queue", StringComparison.Ordinal) ? "q-" + property.Name.ToLowerInvariant() : "v-" + property.Name,
                _ when target == typeof(int) => 1000 + key.Length,
                _ when target == typeof(double) => 0.5,
                _ when target == typeof(bool) => !(bool)(property.GetValue(Activator.CreateInstance(type)) ?? false),
                _ when target == typeof(TimeSpan) => TimeSpan.FromSeconds(key.Length),
                _ => null,
            };
            if (value is not null)
            {
                values[key] = Convert.ToString(value, CultureInfo.InvariantCulture);
                expected.Add((key, read, value));
            }
            else if (typeof(IEnumerable<string>).IsAssignableFrom(target))
            {
                values[key + ":0"] = "q-one";
                values[key + ":1"] = "q-two";
                expected.Add((key, root => read(root) is IEnumerable list ? string.Join(",", list.Cast<string>()) : null, "q-one,q-two"));
            }
            else if (typeof(IDictionary<string, TimeSpan?>).IsAssignableFrom(target))
            {
                values[key + ":wf-a"] = "00:00:42";
                values[key + ":wf-b"] = ""; // no age: kept forever
                expected.Add((key, root => read(root) is IDictionary<string, TimeSpan?> ages ? string.Join(",", ages.OrderBy(a => a.Key).Select(a => $"{a.Key}={a.Value}")) : null, "wf-a=00:00:42,wf-b="));
            }
            else if (target.IsClass && target != typeof(object))
            {
                Plan(target, key + ":", read, values, expected); // WorkerOptions, RetryPolicy
            }
            else
            {
                throw new InvalidOperationException($"{key} ({target.Name}) is neither bound by this test nor listed as not configurable.");
            }
        }
    }
}
