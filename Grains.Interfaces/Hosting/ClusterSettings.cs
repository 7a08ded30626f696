using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace OrleansTasks.Hosting;

/// <summary>
/// Where a silo or a client (the API) finds its cluster: the <c>Orleans</c> configuration section plus
/// <c>ConnectionStrings:Redis</c>, bound once at start-up by both processes, so the keys and defaults they share live
/// in this one class.
/// </summary>
public sealed class ClusterSettings
{
    /// <summary>The configuration section bound to this class.</summary>
    public const string SectionName = "Orleans";

    /// <summary>The configuration key of the Redis connection string (environment: <c>ConnectionStrings__Redis</c>).</summary>
    public const string RedisKey = "ConnectionStrings:Redis";

    /// <summary>
    /// StackExchange.Redis connection string. Unset: in-memory storage and reminders, localhost clustering, not durable.
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>
    /// <c>Redis:TlsCaPath</c>: the CA (PEM or DER) a TLS Redis server's certificate must chain to, with that CA alone as
    /// the trust anchor (<see cref="RedisTls"/>). Needs <c>ssl=true</c> in the connection string. Default: unset, the
    /// machine's trusted roots decide.
    /// </summary>
    public string? RedisTlsCaPath { get; set; }

    /// <summary>The cluster's id; silos and clients must agree. Default: <c>orleanstasks</c>.</summary>
    public string ClusterId { get; set; } = "orleanstasks";

    /// <summary>The service's id, which keys job state and reminders in Redis. Default: <c>orleanstasks</c>.</summary>
    public string ServiceId { get; set; } = "orleanstasks";

    /// <summary>The <c>Orleans:Endpoints</c> subsection.</summary>
    public ClusterEndpoints Endpoints { get; set; } = new();

    /// <summary>The <c>Orleans:Tls</c> subsection: mutual TLS between silos and from clients to gateways. Default: off.</summary>
    public ClusterTls Tls { get; set; } = new();

    /// <summary>True when job state, reminders and membership live in Redis.</summary>
    public bool Durable => !string.IsNullOrWhiteSpace(Redis);

    /// <summary>Every configuration key this class reads (checked against the compose file by the deployment tests).</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        RedisKey, RedisTls.CaPathKey, $"{SectionName}:ClusterId", $"{SectionName}:ServiceId", $"{SectionName}:Endpoints:SiloPort",
        $"{SectionName}:Endpoints:GatewayPort", $"{SectionName}:Endpoints:AdvertisedIPAddress", .. ClusterTls.Keys,
    ];

    /// <summary>Binds and validates the settings; throws naming every bad key.</summary>
    /// <exception cref="OptionsValidationException">A setting cannot be bound or is out of range.</exception>
    public static ClusterSettings Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = new ClusterSettings();
        OptionsBinding.Bind(configuration.GetSection(SectionName), settings);
        settings.Redis = string.IsNullOrWhiteSpace(configuration[RedisKey]) ? null : configuration[RedisKey];
        settings.RedisTlsCaPath = string.IsNullOrWhiteSpace(configuration[RedisTls.CaPathKey]) ? null : configuration[RedisTls.CaPathKey];
        if (settings.Validate().ToList() is { Count: > 0 } errors)
        {
            throw new OptionsValidationException(SectionName, typeof(ClusterSettings), errors);
        }

        return settings;
    }

    /// <summary>The problems of these settings, each naming its key; empty when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            yield return $"{SectionName}:ClusterId must not be empty.";
        }

        if (string.IsNullOrWhiteSpace(ServiceId))
        {
            yield return $"{SectionName}:ServiceId must not be empty.";
        }

        foreach (var (name, port) in new[] { ("SiloPort", Endpoints.SiloPort), ("GatewayPort", Endpoints.GatewayPort) })
        {
            if (port is < 1 or > 65535)
            {
                yield return $"{SectionName}:Endpoints:{name} must be a port between 1 and 65535, not {port}.";
            }
        }

        if (Endpoints.AdvertisedIPAddress is { Length: > 0 } address && !IPAddress.TryParse(address, out _))
        {
            yield return $"{SectionName}:Endpoints:AdvertisedIPAddress must be an IP address, not '{address}'.";
        }

        if (RedisTlsCaPath is { } caPath)
        {
            if (!Durable)
            {
                yield return $"{RedisTls.CaPathKey} is set but {RedisKey} is not: there is no Redis to check the certificate of.";
            }
            else if (!File.Exists(caPath))
            {
                yield return $"{RedisTls.CaPathKey} names no file: '{caPath}'.";
            }
        }

        foreach (var problem in Tls.Validate())
        {
            yield return problem;
        }
    }
}

/// <summary>The <c>Orleans:Endpoints</c> settings.</summary>
public sealed class ClusterEndpoints
{
    /// <summary>Silo-to-silo port. Default: 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port clients (the API) connect to. Default: 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// The address other silos and clients reach a silo at (Redis clustering only). Default: the lowest non-loopback
    /// IPv4 address of an interface that is up (in a container: its own address).
    /// </summary>
    public string? AdvertisedIPAddress { get; set; }
}
