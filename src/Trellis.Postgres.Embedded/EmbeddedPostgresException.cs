namespace Trellis.Postgres.Embedded;

/// <summary>The embedded server could not be found, initialised, started or stopped; the message says why and what to do.</summary>
public sealed class EmbeddedPostgresException : TrellisException
{
    /// <summary>The embedded server could not be started, restarted or stopped, for the reason in <paramref name="message"/>.</summary>
    public EmbeddedPostgresException(string message) : base(message) { }

    /// <summary>The embedded server could not be started, restarted or stopped, for the reason in <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public EmbeddedPostgresException(string message, Exception? innerException) : base(message, innerException) { }
}
