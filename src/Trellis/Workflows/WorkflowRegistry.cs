using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace Trellis;

/// <summary>The workflows a client can start and a worker can run, by name and version.</summary>
public sealed class WorkflowRegistry
{
    private readonly ConcurrentDictionary<(string Name, int Version), WorkflowDefinition> _byKey = new();
    private readonly ConcurrentDictionary<Type, WorkflowDefinition> _byType = new();

    /// <summary>Every registered definition, by name, then version.</summary>
    public IReadOnlyCollection<WorkflowDefinition> Definitions => _byKey.Values.OrderBy(d => d.Name, StringComparer.Ordinal).ThenBy(d => d.Version).ToArray();

    /// <summary>
    /// Registers <typeparamref name="TWorkflow"/>. Without a factory, a new instance is made for every
    /// execution, with constructor injection when a service provider is available.
    /// </summary>
    public WorkflowDefinition Add<TWorkflow>(Func<IServiceProvider?, TWorkflow>? factory = null)
        where TWorkflow : class, IWorkflow
    {
        var type = typeof(TWorkflow);
        var (input, output) = FindTypeArguments(type);
        var attribute = type.GetCustomAttribute<WorkflowAttribute>();
        var name = string.IsNullOrWhiteSpace(attribute?.Name) ? type.Name : attribute!.Name!;
        var version = attribute?.Version ?? 1;
        if (version < 1)
        {
            throw new ArgumentException($"Workflow '{name}' has version {version}; versions start at 1.");
        }

        if (attribute?.ConfiguredMaxWorkerLosses is < 0)
        {
            throw new ArgumentException($"Workflow '{name}' has MaxWorkerLosses {attribute.MaxWorkerLosses}; it must be 0 or more.");
        }

        factory ??= CreateDefaultFactory<TWorkflow>();
        var definitionType = typeof(WorkflowDefinition<,,>).MakeGenericType(type, input, output);
        var definition = (WorkflowDefinition)Activator.CreateInstance(definitionType, name, version, factory)!;
        definition.MaxWorkerLosses = attribute?.ConfiguredMaxWorkerLosses;
        definition.StrictInput = attribute?.StrictInput ?? true;

        if (!_byKey.TryAdd((name, version), definition))
        {
            var existing = _byKey[(name, version)];
            if (existing.WorkflowType != type)
            {
                throw new ArgumentException(
                    $"Workflow '{name}' v{version} is already registered by {existing.WorkflowType.FullName}; {type.FullName} cannot take the same name and version. "
                    + "Give one of them another name or version with [Workflow(...)].");
            }

            return existing;
        }

        _byType[type] = definition;
        return definition;
    }

    /// <summary>The definition registered for a workflow class; throws <see cref="UnknownWorkflowException"/> when there is none.</summary>
    public WorkflowDefinition Get(Type workflowType) =>
        _byType.TryGetValue(workflowType, out var definition)
            ? definition
            : throw new UnknownWorkflowException(workflowType.Name, null, Names());

    /// <summary>The given version, or the highest registered version when <paramref name="version"/> is null.</summary>
    public bool TryGet(string name, int? version, out WorkflowDefinition definition)
    {
        if (version is { } v)
        {
            return _byKey.TryGetValue((name, v), out definition!);
        }

        definition = _byKey.Values.Where(d => d.Name == name).MaxBy(d => d.Version)!;
        return definition is not null;
    }

    internal IEnumerable<string> Names() => Definitions.Select(d => d.ToString());

    private static (Type Input, Type Output) FindTypeArguments(Type type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && current.GetGenericTypeDefinition() == typeof(Workflow<,>))
            {
                var arguments = current.GetGenericArguments();
                return (arguments[0], arguments[1]);
            }
        }

        throw new ArgumentException($"{type.FullName} must derive from Workflow<TInput, TOutput>.");
    }

    private static Func<IServiceProvider?, TWorkflow> CreateDefaultFactory<TWorkflow>()
        where TWorkflow : class
    {
        if (typeof(TWorkflow).IsAbstract)
        {
            throw new ArgumentException($"{typeof(TWorkflow).FullName} is abstract and cannot be registered as a workflow.");
        }

        var hasParameterlessConstructor = typeof(TWorkflow).GetConstructor(Type.EmptyTypes) is not null;
        return services => services is not null
            ? ActivatorUtilities.CreateInstance<TWorkflow>(services)
            : hasParameterlessConstructor
                ? Activator.CreateInstance<TWorkflow>()
                : throw new InvalidOperationException(
                    $"{typeof(TWorkflow).Name} has no parameterless constructor; register it with a factory or use dependency injection.");
    }
}
