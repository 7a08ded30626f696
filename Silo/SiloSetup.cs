using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Silo;

/// <summary>The silo's wiring, shared by the real host and the tests so both run the same configuration.</summary>
public static class SiloSetup
{
    /// <summary>Configuration key of the Redis connection string (environment: <c>ConnectionStrings__Redis</c>).</summary>
    public const string RedisConnectionKey = "ConnectionStrings:Redis";

    /// <summary>Shortest reminder period the engine registers; see <see cref="JobsOptions.RecoveryInterval"/>.</summary>
    public static readonly TimeSpan MinimumReminderPeriod = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Storage and reminders: Redis when <paramref name="redis"/> is set, else in memory. Clustering is left to the
    /// caller (the test host brings its own).
    /// </summary>
    public static ISiloBuilder AddJobProviders(this ISiloBuilder silo, string? redis)
    {
        ArgumentNullException.ThrowIfNull(silo);

        // The engine's reminders tick every Jobs:RecoveryInterval (15 s by default), below Orleans' 1 minute floor.
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = MinimumReminderPeriod);

        // System.Text.Json builds records through their constructors. The default Newtonsoft serializer populates
        // property objects in place, which silently restored every job's policy as the defaults.
        silo.UseSystemTextJsonGrainStorageSerializer();
        if (string.IsNullOrWhiteSpace(redis))
        {
            return silo.AddMemoryGrainStorage(StorageNames.Jobs).UseInMemoryReminderService();
        }

        var redisOptions = ParseRedis(redis);
        return silo
            .AddRedisGrainStorage(StorageNames.Jobs, o => o.ConfigurationOptions = redisOptions)
            .UseRedisReminderService(o => o.ConfigurationOptions = redisOptions);
    }

    /// <summary>Redis options that survive Redis being briefly away: keep retrying instead of failing start-up.</summary>
    public static ConfigurationOptions ParseRedis(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        return options;
    }

    /// <summary>Cluster identity, endpoints and clustering for a real (non-test) silo.</summary>
    public static ISiloBuilder AddClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection("Orleans");
        var clusterId = section["ClusterId"] ?? "orleanstasks";
        var serviceId = section["ServiceId"] ?? "orleanstasks";
        var siloPort = section.GetValue("Endpoints:SiloPort", EndpointOptions.DEFAULT_SILO_PORT);
        var gatewayPort = section.GetValue("Endpoints:GatewayPort", EndpointOptions.DEFAULT_GATEWAY_PORT);
        var redis = configuration[RedisConnectionKey];

        if (string.IsNullOrWhiteSpace(redis))
        {
            return silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: serviceId, clusterId: clusterId);
        }

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = clusterId;
            o.ServiceId = serviceId;
        });
        silo.Configure<EndpointOptions>(o =>
        {
            o.SiloPort = siloPort;
            o.GatewayPort = gatewayPort;
            if (section["Endpoints:AdvertisedIPAddress"] is { Length: > 0 } advertised)
            {
                o.AdvertisedIPAddress = IPAddress.Parse(advertised);
            }
        });
        // Failure detection (ProbeTimeout, NumMissedProbesLimit, ...) is tunable without a rebuild.
        silo.Configure<ClusterMembershipOptions>(section.GetSection("Membership"));
        var redisOptions = ParseRedis(redis);
        return silo.UseRedisClustering(o => o.ConfigurationOptions = redisOptions);
    }
}

/// <summary>Start-up log lines that tell an operator how durable this silo is.</summary>
public static partial class SiloLog
{
    [LoggerMessage(100, LogLevel.Warning, "No ConnectionStrings:Redis configured: running with IN-MEMORY storage and reminders. NOTHING IS DURABLE: jobs are lost when this silo stops. Set ConnectionStrings__Redis for production.")]
    public static partial void NotDurable(ILogger logger);

    [LoggerMessage(101, LogLevel.Information, "Durable mode: job state, reminders and membership in Redis at {Endpoints}")]
    public static partial void Durable(ILogger logger, string endpoints);
}
