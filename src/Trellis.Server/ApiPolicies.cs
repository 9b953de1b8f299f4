namespace Trellis.Server;

/// <summary>The authorization policies of the API's endpoints.</summary>
public static class ApiPolicies
{
    /// <summary>A valid token of any scope.</summary>
    public const string Read = "trellis:read";

    /// <summary>A valid token of the admin scope.</summary>
    public const string Admin = "trellis:admin";
}
