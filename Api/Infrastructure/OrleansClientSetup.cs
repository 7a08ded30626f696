using Orleans.Configuration;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>Connects the API to the silos: through Redis membership when configured, else a localhost silo's gateway.</summary>
public static partial class OrleansClientSetup
{
    /// <summary>The <see cref="ClusterSettings"/> keys a client uses (the deployment test checks compose against them).</summary>
    public static IReadOnlyList<string> Keys { get; } =
        [ClusterSettings.RedisKey, "Orleans:ClusterId", "Orleans:ServiceId", "Orleans:Endpoints:GatewayPort"];

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
                var options = ConfigurationOptions.Parse(redis);
                options.AbortOnConnectFail = false;
                client.UseRedisClustering(o => o.ConfigurationOptions = options);
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
                LogRedis(logger);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [LoggerMessage(200, LogLevel.Warning, "No ConnectionStrings:Redis configured: connecting to the silo gateway at localhost:{GatewayPort}. Jobs are only as durable as that silo's storage (in memory unless it has Redis).")]
    private static partial void LogLocalhost(ILogger logger, int gatewayPort);

    [LoggerMessage(201, LogLevel.Information, "Finding silos through Redis membership")]
    private static partial void LogRedis(ILogger logger);
}
