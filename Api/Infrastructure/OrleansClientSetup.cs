using Orleans.Configuration;
using Orleans.Connections.Security;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>Connects the API to the silos: through Redis membership when configured, else a localhost silo's gateway.</summary>
public static partial class OrleansClientSetup
{
    /// <summary>The <see cref="ClusterSettings"/> keys a client uses (the deployment test checks compose against them).</summary>
    public static IReadOnlyList<string> Keys { get; } =
        [ClusterSettings.RedisKey, RedisTls.CaPathKey, "Orleans:ClusterId", "Orleans:ServiceId", "Orleans:Endpoints:GatewayPort", .. ClusterTls.Keys];

    /// <summary>
    /// The API's options for <see cref="ClusterSettings.Redis"/>, for every connection it makes (membership, live job
    /// events): the silos' own, <see cref="RedisConnectionOptions.Create(ClusterSettings)"/>.
    /// </summary>
    public static ConfigurationOptions RedisOptions(ClusterSettings cluster) => RedisConnectionOptions.Create(cluster);

    public static WebApplicationBuilder AddOrleansTasksClient(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var cluster = ClusterSettings.Bind(builder.Configuration);
        var redis = cluster.Redis;
        var clusterId = cluster.ClusterId;
        var serviceId = cluster.ServiceId;
        var gatewayPort = cluster.Endpoints.GatewayPort;

        builder.UseOrleansClient(client =>
        {
            if (string.IsNullOrWhiteSpace(redis))
            {
                client.UseLocalhostClustering(gatewayPort, serviceId, clusterId);
            }
            else
            {
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = serviceId;
                });
                var options = RedisOptions(cluster);
                client.UseRedisClustering(o => o.ConfigurationOptions = options);
            }

            if (cluster.Tls.Enabled)
            {
                client.UseClusterTls(cluster.Tls);
            }

            // Start even when the silos come up after us, and keep trying rather than crash.
            client.UseConnectionRetryFilter(static async (exception, cancellationToken) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                return true;
            });
        });
        builder.Services.AddSingleton<JobClient>();
        builder.Services.AddSingleton<OrleansTasks.Schedules.ScheduleClient>();
        builder.Services.AddHostedService(sp => new StartupLog(sp.GetRequiredService<ILogger<JobClient>>(), redis, gatewayPort));
        return builder;
    }

    /// <summary>
    /// Mutual TLS to the gateways: the client presents its certificate and accepts only a gateway whose certificate
    /// <paramref name="tls"/>'s validator trusts (the silos' own setting, SiloSetup.UseClusterTls, is the mirror image).
    /// </summary>
    public static IClientBuilder UseClusterTls(this IClientBuilder client, ClusterTls tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        var certificate = tls.LoadCertificate();
        var validator = tls.CreateValidator();
        return client.UseTls(certificate, options =>
        {
            // The gateway must present a certificate, and so must we: the silos refuse clients without one.
            options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;

            // Replaces the system's policy check, whose trusted roots say nothing about who belongs to this cluster.
            options.RemoteCertificateValidation = (peer, presented, _) => validator.IsTrusted(peer, presented);
        });
    }

    private sealed class StartupLog(ILogger logger, string? redis, int gatewayPort) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (string.IsNullOrWhiteSpace(redis))
            {
                LogLocalhost(logger, gatewayPort);
            }
            else
            {
                // Never the raw connection string: it may carry the Redis password.
                LogRedis(logger, ConfigurationOptions.Parse(redis).ToString(includePassword: false));
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [LoggerMessage(200, LogLevel.Warning, "No ConnectionStrings:Redis configured: connecting to the silo gateway at localhost:{GatewayPort}. Jobs are only as durable as that silo's storage (in memory unless it has Redis).")]
    private static partial void LogLocalhost(ILogger logger, int gatewayPort);

    [LoggerMessage(201, LogLevel.Information, "Finding silos through Redis membership at {Endpoints}")]
    private static partial void LogRedis(ILogger logger, string endpoints);
}
