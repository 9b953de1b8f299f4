using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Trellis.Server;

/// <summary>An API without tokens is open to whoever reaches it: it may listen on loopback only, unless told otherwise.</summary>
internal static partial class OpenApiGuard
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Critical,
        Message = "The Trellis API has no token configured and listens on {Address}, beyond this machine: stopping. Configure tokens "
            + "(TrellisApiOptions.Tokens), listen on loopback, or set TrellisApiOptions.AllowOpenRemote.")]
    private static partial void OpenBeyondLoopback(ILogger logger, string address);

    public static void StopIfListeningBeyondLoopback(IServiceProvider services)
    {
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            if (addresses.FirstOrDefault(a => !IsLoopback(a)) is { } remote)
            {
                var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Trellis.Server");
                OpenBeyondLoopback(logger, remote);
                lifetime.StopApplication();
            }
        });
    }

    /// <summary>True for an address only this machine can reach (127.0.0.1, [::1], localhost).</summary>
    public static bool IsLoopback(string url)
    {
        var host = url.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal);
        return Uri.TryCreate(host, UriKind.Absolute, out var uri)
            && (uri.Host == "localhost" || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip)));
    }
}
