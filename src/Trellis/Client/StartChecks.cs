using System.Text;
using System.Text.Json;

namespace Trellis.Client;

/// <summary>What a start checks before anything is stored: the options, and the input's type, size and syntax.</summary>
internal static class StartChecks
{
    /// <summary>The input is of the workflow's input type (or a null it allows).</summary>
    public static void CheckInputType(WorkflowDefinition definition, object? input)
    {
        definition.CheckNull(input);
        if (input is not null && !definition.InputType.IsInstanceOfType(input))
        {
            throw new InvalidRunInputException(
                $"Workflow '{definition.Name}' takes a {definition.InputType.Name} as input, not a {input.GetType().Name}.");
        }
    }

    /// <summary>The input's JSON is within <see cref="TrellisOptions.MaxInputBytes"/>.</summary>
    public static void CheckInputSize(string workflowName, string inputJson, int maxInputBytes, string what = "input of workflow")
    {
        // UTF-8 takes at most 3 bytes per UTF-16 char, so short inputs need no exact count.
        if (inputJson.Length * 3 <= maxInputBytes)
        {
            return;
        }

        var inputBytes = Encoding.UTF8.GetByteCount(inputJson);
        if (inputBytes > maxInputBytes)
        {
            throw new InvalidRunInputException(
                $"The {what} '{workflowName}' is {inputBytes:N0} bytes of JSON; the limit is {maxInputBytes:N0} (TrellisOptions.MaxInputBytes).");
        }
    }

    /// <summary>Every setting of <paramref name="options"/> is one a run can have.</summary>
    public static void CheckOptions(StartOptions options)
    {
        if (options.RunId is { } id)
        {
            Names.CheckRunId(id, nameof(options));
        }

        if (options.Queue is { } queue)
        {
            Names.CheckQueue(queue, "StartOptions.Queue");
        }

        if (options.MaxAttempts is < 1)
        {
            throw new ArgumentException("StartOptions.MaxAttempts must be at least 1.", nameof(options));
        }

        if (options.MaxWorkerLosses is < 0)
        {
            throw new ArgumentException("StartOptions.MaxWorkerLosses must be 0 or more.", nameof(options));
        }

        if (options.Tags?.Keys.Any(string.IsNullOrEmpty) == true)
        {
            throw new ArgumentException("Tag keys must not be empty.", nameof(options));
        }

        if (options.Delay is { } delay && delay < TimeSpan.Zero)
        {
            throw new ArgumentException("StartOptions.Delay must not be negative.", nameof(options));
        }

        if (options.Timeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("StartOptions.Timeout must be positive.", nameof(options));
        }

        if (options.WorkflowVersion is < 1)
        {
            throw new ArgumentException("StartOptions.WorkflowVersion starts at 1.", nameof(options));
        }
    }

    /// <summary>The input is JSON.</summary>
    public static void CheckJsonSyntax(string json)
    {
        try
        {
            using var _ = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidRunInputException($"The input is not valid JSON: {ex.Message}", ex);
        }
    }
}
