using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>
/// What a caller may do. <c>read</c>: every GET; <c>write</c>: enqueue (<c>POST /jobs</c> and the seed's endpoints),
/// nothing else; <c>admin</c>: everything. The names double as the authorization policies' names.
/// </summary>
public static class ApiScopes
{
    public const string Read = "read";
    public const string Write = "write";
    public const string Admin = "admin";

    /// <summary>The claim that carries one scope of the caller.</summary>
    public const string ClaimType = "scope";

    /// <summary>The claim that names the configured key a caller authenticated with (absent for loopback callers).</summary>
    public const string KeyClaimType = "api_key";

    public static IReadOnlyList<string> All { get; } = [Read, Write, Admin];

    /// <summary>Whether the caller holds <paramref name="scope"/>, itself or through <c>admin</c>.</summary>
    public static bool Has(ClaimsPrincipal user, string scope)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.Identity?.IsAuthenticated == true && (user.HasClaim(ClaimType, scope) || user.HasClaim(ClaimType, Admin));
    }
}

/// <summary>One key, <c>Api:Keys:{i}</c>. Only the key's digest is configured, never the key.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Who holds the key; shown in logs and used as its rate-limit partition.</summary>
    public string? Name { get; set; }

    /// <summary>Hex SHA-256 of the key's UTF-8 bytes (<c>keys new</c> prints it).</summary>
    public string? Sha256 { get; set; }

    /// <summary><c>read</c>, <c>write</c> and/or <c>admin</c>: a list (<c>Api:Keys:{i}:Scopes:0</c>, ...) or one value separated by commas.</summary>
    public List<string> Scopes { get; set; } = [];
}

/// <summary>The keys, bound from the <c>Api</c> section. None configured: only loopback clients are served.</summary>
public sealed class ApiKeysOptions
{
    public List<ApiKeyOptions> Keys { get; set; } = [];
}

/// <summary>Fails start-up on a key that could never work, naming it, rather than answering 401 to its holder later.</summary>
internal sealed class ApiKeysValidator : IValidateOptions<ApiKeysOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiKeysOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            var label = string.IsNullOrWhiteSpace(key.Name) ? $"Api:Keys:{i}" : $"Api:Keys:{i} ('{key.Name}')";
            if (string.IsNullOrWhiteSpace(key.Name))
            {
                failures.Add($"{label}:Name is required.");
            }
            else if (!names.TryAdd(key.Name, label))
            {
                failures.Add($"{label}:Name is also the name of {names[key.Name]}; names must differ.");
            }

            if (ApiKeyStore.ParseDigest(key.Sha256) is not { } digest)
            {
                failures.Add($"{label}:Sha256 must be the 64 hex characters of the key's SHA-256 (run `dotnet OrleansTasks.Api.dll keys new` to make a key and its line).");
            }
            else if (!digests.TryAdd(Convert.ToHexStringLower(digest), label))
            {
                failures.Add($"{label}:Sha256 is the same as {digests[Convert.ToHexStringLower(digest)]}'s.");
            }

            if (key.Scopes.Count == 0)
            {
                failures.Add($"{label}:Scopes is empty; give one or more of read, write, admin as a list (Api:Keys:{i}:Scopes:0, Api:Keys:{i}:Scopes:1, ...; in the environment Api__Keys__{i}__Scopes__0) or separated by commas (Api:Keys:{i}:Scopes=read,write).");
            }

            foreach (var scope in key.Scopes.Where(s => ApiKeyStore.NormalizeScope(s) is null))
            {
                failures.Add($"{label}:Scopes has the unknown scope '{scope}'; use read, write or admin.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>A configured key as the handler matches it.</summary>
internal sealed record ApiKey(string Name, byte[] Digest, IReadOnlyList<string> Scopes);

/// <summary>The configured keys' digests; finds the key a caller presents by hashing it and comparing in constant time.</summary>
internal sealed class ApiKeyStore
{
    private readonly ApiKey[] _keys;

    public ApiKeyStore(IOptions<ApiKeysOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _keys = [.. options.Value.Keys.Select(k => new ApiKey(
            k.Name!, ParseDigest(k.Sha256)!, [.. k.Scopes.Select(s => NormalizeScope(s)!).Distinct(StringComparer.Ordinal)]))];
    }

    /// <summary>No key configured: the loopback-only default applies.</summary>
    public bool IsEmpty => _keys.Length == 0;

    public ApiKey? Find(string presented)
    {
        var digest = Digest(presented);
        ApiKey? match = null;

        // Every digest is compared, each in constant time, so the answer's timing says nothing about the keys.
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, key.Digest))
            {
                match = key;
            }
        }

        return match;
    }

    public static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static byte[]? ParseDigest(string? hex)
    {
        if (hex is not { Length: 64 } || !hex.All(char.IsAsciiHexDigit))
        {
            return null;
        }

        return Convert.FromHexString(hex);
    }

    public static string? NormalizeScope(string? scope) =>
        ApiScopes.All.FirstOrDefault(s => string.Equals(s, scope?.Trim(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>The loopback-only default's test of a caller.</summary>
public static class Loopback
{
    /// <summary>
    /// A direct caller on this machine: a loopback remote address and no proxy header. A request with no remote
    /// address, or one a proxy forwarded (which then connects from loopback on someone else's behalf), is not.
    /// </summary>
    public static bool IsDirectLoopbackCaller(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Connection.RemoteIpAddress is not { } address)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var headers = context.Request.Headers;
        return IPAddress.IsLoopback(address)
            && !headers.ContainsKey("X-Forwarded-For")
            && !headers.ContainsKey("Forwarded")
            && !headers.ContainsKey("X-Real-IP");
    }
}
