using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Api.Jobs;

/// <summary>
/// Where this process's live job changes come from. A stream watches its job for as long as it is open, so a source
/// that can hear one job at a time (Redis pub/sub) carries only the jobs someone follows.
/// </summary>
public interface IJobChangeFeed
{
    /// <summary>Completes once changes of job <paramref name="id"/> reach the <see cref="JobEventHub"/>; dispose to stop.</summary>
    Task<IAsyncDisposable> WatchAsync(string id, CancellationToken cancellationToken);
}

/// <summary>
/// Feeds <see cref="JobEventHub"/> from the job store's per-job pub/sub channels (<see cref="JobChange.Channel"/>):
/// this process subscribes to a job's channel while it has open streams for that job, whichever silo writes it, so
/// the many writes nobody follows are never sent here. Without <c>ConnectionStrings:Redis</c>, the silo's in-memory
/// store is the source (<see cref="ObserverJobEventSource"/>).
/// </summary>
public sealed partial class RedisJobEventSource(IConfiguration configuration, JobEventHub hub, ILogger<RedisJobEventSource> logger)
    : IHostedService, IJobChangeFeed, IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.Ordinal);
    private ConnectionMultiplexer? _redis;
    private string _serviceId = string.Empty;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var cluster = ClusterSettings.Bind(configuration);
        _serviceId = cluster.ServiceId;

        // Starts (and serves snapshots) while Redis is down; streams subscribe once it connects.
        _redis = await ConnectionMultiplexer.ConnectAsync(OrleansClientSetup.RedisOptions(cluster));
        _redis.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                // The multiplexer subscribes again by itself, but messages published while it was down are gone:
                // every stream reads its job again.
                LogResubscribed(e.EndPoint?.ToString());
                hub.ResyncAll();
            }
        };
        LogStarted(JobChange.ChannelPrefix(_serviceId));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<IAsyncDisposable> WatchAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        Watch watch;
        lock (_lock)
        {
            if (!_watches.TryGetValue(id, out watch!))
            {
                _watches[id] = watch = new Watch(id, SubscribeAsync(id));
            }

            watch.Streams++;
        }

        try
        {
            await watch.Subscribed.WaitAsync(cancellationToken);
        }
        catch
        {
            await ReleaseAsync(watch);
            throw;
        }

        return new Lease(this, watch);
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is { } redis)
        {
            await redis.DisposeAsync();
        }
    }

    private async Task<ChannelMessageQueue> SubscribeAsync(string id)
    {
        var redis = _redis ?? throw new InvalidOperationException("Live job events have not started yet.");
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(JobChange.Channel(_serviceId, id)));

        // The queue hands messages over one at a time, in the order Redis sent them (the order they were stored).
        queue.OnMessage(message =>
        {
            if (JobChange.TryParse(message.Message) is { } change)
            {
                hub.Publish(change);
            }
        });
        return queue;
    }

    private async ValueTask ReleaseAsync(Watch watch)
    {
        lock (_lock)
        {
            if (--watch.Streams > 0)
            {
                return;
            }

            if (_watches.TryGetValue(watch.Id, out var current) && current == watch)
            {
                _watches.Remove(watch.Id);
            }
        }

        try
        {
            // Each subscription is its own queue: a new watch of the same job that began meanwhile keeps the channel.
            await (await watch.Subscribed).UnsubscribeAsync();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException)
        {
            // Never subscribed, or the connection is gone, and the subscription with it.
            LogUnsubscribeFailed(watch.Id, ex);
        }
    }

    [LoggerMessage(1220, LogLevel.Information, "Live job events: streams subscribe to Redis channels {ChannelPrefix}{{id}} while they are open")]
    private partial void LogStarted(string channelPrefix);

    [LoggerMessage(1221, LogLevel.Warning, "Live job events: the Redis subscription to {Endpoint} was restored; open streams re-read their jobs")]
    private partial void LogResubscribed(string? endpoint);

    [LoggerMessage(1223, LogLevel.Debug, "Live job events: could not unsubscribe from job {JobId}'s channel")]
    private partial void LogUnsubscribeFailed(string jobId, Exception exception);

    /// <summary>One job's channel subscription, shared by that job's open streams in this process.</summary>
    private sealed class Watch(string id, Task<ChannelMessageQueue> subscribed)
    {
        public string Id { get; } = id;
        public Task<ChannelMessageQueue> Subscribed { get; } = subscribed;
        public int Streams { get; set; }
    }

    private sealed class Lease(RedisJobEventSource source, Watch watch) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? source.ReleaseAsync(watch) : ValueTask.CompletedTask;
    }
}

/// <summary>
/// Without Redis, jobs live in one silo's memory: this process registers an observer with that silo
/// (<see cref="IJobEventsGrain"/>) and renews it every <see cref="Renewal"/>. The silo sends every change, so watching a
/// job costs nothing more.
/// </summary>
public sealed partial class ObserverJobEventSource(IClusterClient client, JobEventHub hub, ILogger<ObserverJobEventSource> logger)
    : BackgroundService, IJobEventsObserver, IJobChangeFeed
{
    /// <summary>How often the observer is registered again; the silo drops one not renewed within three times this.</summary>
    public static readonly TimeSpan Renewal = TimeSpan.FromSeconds(20);

    public Task<IAsyncDisposable> WatchAsync(string id, CancellationToken cancellationToken) => Task.FromResult<IAsyncDisposable>(NoWatch.Instance);

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

    private sealed class NoWatch : IAsyncDisposable
    {
        public static readonly NoWatch Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
