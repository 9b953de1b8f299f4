using Microsoft.Extensions.Options;

namespace Trellis.Hosting;

/// <summary>
/// Makes <c>IOptions</c>, <c>IOptionsMonitor</c> and <c>IOptionsSnapshot</c> of <see cref="TrellisOptions"/>
/// all return the one options object the engine uses: the builder's settings, then every
/// <c>Configure</c>/<c>PostConfigure</c> registered with the container, checked by Trellis's own
/// validation and by any <see cref="IValidateOptions{TOptions}"/> the application added.
/// </summary>
internal sealed class TrellisOptionsFactory(
    TrellisOptions options,
    IEnumerable<IConfigureOptions<TrellisOptions>> configures,
    IEnumerable<IPostConfigureOptions<TrellisOptions>> postConfigures,
    IEnumerable<IValidateOptions<TrellisOptions>> validators) : IOptionsFactory<TrellisOptions>
{
    private readonly Lazy<TrellisOptions> _built = new(() => Build(options, configures, postConfigures, validators));

    public TrellisOptions Create(string name) => _built.Value;

    private static TrellisOptions Build(
        TrellisOptions options,
        IEnumerable<IConfigureOptions<TrellisOptions>> configures,
        IEnumerable<IPostConfigureOptions<TrellisOptions>> postConfigures,
        IEnumerable<IValidateOptions<TrellisOptions>> validators)
    {
        foreach (var configure in configures)
        {
            if (configure is IConfigureNamedOptions<TrellisOptions> named)
            {
                named.Configure(Options.DefaultName, options);
            }
            else
            {
                configure.Configure(options);
            }
        }

        foreach (var postConfigure in postConfigures)
        {
            postConfigure.PostConfigure(Options.DefaultName, options);
        }

        options.Validate();
        var failures = validators
            .Select(v => v.Validate(Options.DefaultName, options))
            .Where(r => r.Failed)
            .SelectMany(r => r.Failures ?? [])
            .ToList();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TrellisOptions), failures);
        }

        return options;
    }
}
