using Microsoft.Extensions.Logging;

namespace Trellis.Diagnostics;

/// <summary>The log lines of retention (event ids 1070–1079).</summary>
internal static partial class LogMessages
{
    [LoggerMessage(1070, LogLevel.Information, "Retention deleted {Count} finished run(s) older than their workflows' age, with their steps and history")]
    public static partial void OldRunsDeleted(this ILogger logger, long count);
}
