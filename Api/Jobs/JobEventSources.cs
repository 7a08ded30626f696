using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Api.Jobs;

/// <summary>
/// Feeds <see cref="JobEventHub"/> from the job store's pub/sub channel (<see cref="JobChange.Channel"/>): one Redis
/// subscription per API process, whichever silo writes the job. Without <c>ConnectionStrings:Redis</c>, the silo's
/// in-memory store is the source (<see cref="ObserverJobEventSource"/>).
/// </summary>
public sealed partial class RedisJobEventSource(IConfiguration configuration, JobEventHub hub, ILogger<RedisJobEventSource> logger)
    : IHostedService, IAsyncDisposable
{
    private ConnectionMultiplexer? _redis;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var cluster = ClusterSettings.Bind(configuration);
        // Starts (and serves snapshots) while Redis is down; the multiplexer subscribes once it connects.
        _redis = await ConnectionMultiplexer.ConnectAsync(OrleansClientSetup.RedisOptions(cluster));
        _redis.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                // Messages published while the subscription was down are gone: every stream reads its job again.
                LogResubscribed(e.EndPoint?.ToString());
                hub.ResyncAll();
            }
        };

        var channel = JobChange.Channel(cluster.ServiceId);
        var queue = await _redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(channel));

        // The queue hands messages over one at a time, in the order Redis sent them (the order they were stored).
        queue.OnMessage(message =>
        {
            if (JobChange.TryParse(message.Message) is { } change)
            {
                hub.Publish(change);
            }
        });
        LogSubscribed(channel);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_redis is { } redis)
        {
            await redis.DisposeAsync();
        }
    }

    [LoggerMessage(1220, LogLevel.Information, "Live job events: subscribed to Redis channel {Channel}")]
    private partial void LogSubscribed(string channel);

    [LoggerMessage(1221, LogLevel.Warning, "Live job events: the Redis subscription to {Endpoint} was restored; open streams re-read their jobs")]
    private partial void LogResubscribed(string? endpoint);
}

/// <summary>
/// Without Redis, jobs live in one silo's memory: this process registers an observer with that silo
/// (<see cref="IJobEventsGrain"/>) and renews it every <see cref="Renewal"/>.
/// </summary>
public sealed partial class ObserverJobEventSource(IClusterClient client, JobEventHub hub, ILogger<ObserverJobEventSource> logger)
    : BackgroundService, IJobEventsObserver
{
    /// <summary>How often the observer is registered again; the silo drops one not renewed within three times this.</summary>
    public static readonly TimeSpan Renewal = TimeSpan.FromSeconds(20);

    public Task OnJobChangedAsync(string changeJson)
    {
        if (JobChange.TryParse(changeJson) is { } change)
        {
            hub.Publish(change);
        }

        return Task.CompletedTask;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var self = client.CreateObjectReference<IJobEventsObserver>(this);
        var healthy = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var renewed = await client.GetGrain<IJobEventsGrain>(0).SubscribeAsync(self);
                if (!healthy || !renewed)
                {
                    // First registration, or the silo had lost ours (restarted, or it failed to renew): changes may be missed.
                    hub.ResyncAll();
                }

                healthy = true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                healthy = false;
                LogNotSubscribed(ex);
            }

            await Task.Delay(healthy ? Renewal : TimeSpan.FromSeconds(1), stoppingToken)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        client.DeleteObjectReference<IJobEventsObserver>(self);
    }

    [LoggerMessage(1222, LogLevel.Debug, "Live job events: could not register with the silo yet")]
    private partial void LogNotSubscribed(Exception exception);
}
