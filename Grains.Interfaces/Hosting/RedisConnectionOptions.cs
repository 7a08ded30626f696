using StackExchange.Redis;

namespace OrleansTasks.Hosting;

/// <summary>
/// The StackExchange.Redis options of every connection a silo or the API makes to <c>ConnectionStrings:Redis</c>
/// (providers, membership, live job events, the silo's own checks), built here once so that both processes treat
/// the password, TLS and <c>Redis:TlsCaPath</c> alike.
/// </summary>
public static class RedisConnectionOptions
{
    /// <summary>
    /// Options that survive Redis being briefly away: keep retrying instead of failing start-up. With
    /// <paramref name="tlsCaPath"/> (<c>Redis:TlsCaPath</c>) the server's TLS certificate must chain to that CA.
    /// </summary>
    /// <exception cref="OrleansConfigurationException"><paramref name="tlsCaPath"/> is set but the connection string does not turn TLS on.</exception>
    public static ConfigurationOptions Create(string connectionString, string? tlsCaPath = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        return options.TrustRedisCa(tlsCaPath);
    }

    /// <summary><see cref="Create(string, string?)"/> for <paramref name="cluster"/>'s Redis and <c>Redis:TlsCaPath</c>.</summary>
    /// <exception cref="InvalidOperationException"><paramref name="cluster"/> has no Redis.</exception>
    public static ConfigurationOptions Create(ClusterSettings cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return Create(cluster.Redis ?? throw new InvalidOperationException($"{ClusterSettings.RedisKey} is not set."), cluster.RedisTlsCaPath);
    }

    /// <summary>
    /// Makes <paramref name="options"/> accept only a server certificate that chains to the CA in
    /// <paramref name="tlsCaPath"/> (<see cref="RedisTls"/>); unchanged when it is null.
    /// </summary>
    /// <exception cref="OrleansConfigurationException">The connection string does not turn TLS on.</exception>
    public static ConfigurationOptions TrustRedisCa(this ConfigurationOptions options, string? tlsCaPath)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(tlsCaPath))
        {
            return options;
        }

        if (!options.Ssl)
        {
            // A CA for a plain-text connection would protect nothing; say so rather than let it look secure.
            throw new OrleansConfigurationException(RedisTls.NotTlsProblem);
        }

        options.CertificateValidation += RedisTls.CreateValidation(tlsCaPath);
        return options;
    }
}
