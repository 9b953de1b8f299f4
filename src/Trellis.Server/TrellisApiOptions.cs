namespace Trellis.Server;

/// <summary>What a bearer token may do.</summary>
public enum ApiScope
{
    /// <summary>Read runs, steps, history, children, statistics.</summary>
    Read,

    /// <summary>Everything <see cref="Read"/> may, and change things: start, cancel, retry, resume, fork, publish, send, purge.</summary>
    Admin,
}

/// <summary>One bearer token the API accepts, and its scope.</summary>
public sealed class ApiToken
{
    /// <summary>The secret a caller sends as <c>Authorization: Bearer &lt;token&gt;</c>. At least 16 characters.</summary>
    public string Token { get; set; } = "";

    /// <summary>What it may do. Default <see cref="ApiScope.Read"/>.</summary>
    public ApiScope Scope { get; set; } = ApiScope.Read;

    /// <summary>A name for logs (never the token itself). Optional.</summary>
    public string? Name { get; set; }
}

/// <summary>Settings of the Trellis HTTP API (bindable from the configuration section <c>Trellis:Api</c>).</summary>
public sealed class TrellisApiOptions
{
    /// <summary>The shortest token accepted: a short secret can be guessed.</summary>
    public const int MinimumTokenLength = 16;

    /// <summary>
    /// The tokens callers may present. Every endpoint but <c>/health</c> needs one; every change needs an admin one. With
    /// none configured, the API is open (every caller is an admin), and the server stops at once if it listens beyond
    /// loopback, unless <see cref="AllowOpenRemote"/>.
    /// </summary>
    public IList<ApiToken> Tokens { get; set; } = [];

    /// <summary>Lets a server without tokens listen beyond loopback: anyone who reaches it can change runs. Default false.</summary>
    public bool AllowOpenRemote { get; set; }

    /// <summary>Largest request body accepted, in bytes (a run's input or an event's data is inside it). Default 1 MiB.</summary>
    public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted in a request body. Default 64.</summary>
    public int MaxJsonDepth { get; set; } = 64;

    /// <summary>Checks the settings; throws with what is wrong.</summary>
    public void Validate()
    {
        foreach (var token in Tokens)
        {
            if (string.IsNullOrWhiteSpace(token.Token) || token.Token.Length < MinimumTokenLength)
            {
                throw new ArgumentException($"API token '{token.Name ?? "(unnamed)"}' is shorter than {MinimumTokenLength} characters.");
            }
        }

        if (Tokens.Select(t => t.Token).Distinct(StringComparer.Ordinal).Count() != Tokens.Count)
        {
            throw new ArgumentException("The same API token is configured twice.");
        }

        if (MaxRequestBytes < 1024 || MaxJsonDepth < 4)
        {
            throw new ArgumentException("TrellisApiOptions.MaxRequestBytes must be at least 1024 and MaxJsonDepth at least 4.");
        }
    }
}
