using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>Which cluster a silo or client joins, and where the silo listens.</summary>
public sealed record ClusterIdentity(string ServiceId, string ClusterId)
{
    public static ClusterIdentity New() => new($"svc-{Guid.NewGuid():N}", $"cl-{Guid.NewGuid():N}");
}

/// <summary>
/// A silo host built exactly as Silo/Program.cs builds it on Redis (<see cref="SiloSetup"/>: Redis clustering, grain
/// storage and reminders), configured through the same keys, plus the test job types.
/// </summary>
public sealed class RedisSilo : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly SiloLife _life;
    private bool _disposed;

    private RedisSilo(IHost host, int siloPort, SiloLife life)
    {
        _host = host;
        SiloPort = siloPort;
        _life = life;
    }

    public int SiloPort { get; }

    /// <summary>The silo host's services.</summary>
    public IServiceProvider Services => _host.Services;

    /// <summary>This silo's worker pool, to see what runs and waits where.</summary>
    public JobRunner Runner => _host.Services.GetRequiredService<JobRunner>();

    /// <summary>True when every job is placed and each pool is as full as its jobs allow.</summary>
    public static bool PoolsSettled(IEnumerable<RedisSilo> silos, int jobs) =>
        silos.Sum(s => s.Runner.Running + s.Runner.Waiting) == jobs
        && silos.All(s => s.Runner.Running == Math.Min(TestSiloSettings.MaxConcurrency, s.Runner.Running + s.Runner.Waiting));

    /// <summary>True when an attempt's <c>silo</c> field names this silo.</summary>
    public bool Ran(Jobs.JobAttempt attempt) => attempt.Silo.Contains($":{SiloPort}:", StringComparison.Ordinal);

    /// <summary>
    /// Starts a silo; <paramref name="overrides"/> replace any of the settings below (e.g. membership timing), and
    /// <paramref name="connectionString"/> the server's own connection string (e.g. with a wrong password).
    /// </summary>
    public static async Task<RedisSilo> StartAsync(RedisServer redis, ClusterIdentity identity, int? siloPort = null, LogCapture? logs = null,
        IReadOnlyDictionary<string, string?>? overrides = null, Action<IServiceCollection>? services = null,
        Action<JobTypeRegistryBuilder>? jobs = null, string? connectionString = null)
    {
        var redisConnection = connectionString ?? redis.ConnectionString;
        var port = siloPort ?? RedisServer.FreePort();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orleans:ServiceId"] = identity.ServiceId,
            ["Orleans:ClusterId"] = identity.ClusterId,
            ["Orleans:Endpoints:SiloPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:GatewayPort"] = RedisServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",

            // Fast failure detection so crash tests finish in seconds (ORLEANS-NOTES test settings).
            ["Orleans:Membership:ProbeTimeout"] = "00:00:01",
            ["Orleans:Membership:NumMissedProbesLimit"] = "1",
            ["Orleans:Membership:NumVotesForDeathDeclaration"] = "1",
            ["Orleans:Membership:TableRefreshTimeout"] = "00:00:02",
        });
        TestSiloSettings.Apply(builder, redisConnection, logs, jobs);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        services?.Invoke(builder.Services);
        var life = new SiloLife();
        builder.Services.AddSingleton(life);
        builder.Logging.AddFilter(level => level >= LogLevel.Warning);
        builder.UseOrleans(silo => silo.AddClustering(builder.Configuration).AddJobProviders(redisConnection));
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            // A silo that failed to start must not leave its background services running in the test process.
            host.Dispose();
            throw;
        }

        return new RedisSilo(host, port, life);
    }

    /// <summary>Stops the silo with no goodbye: no deactivation, no hand-off, as a SIGKILL would.</summary>
    public async Task CrashAsync()
    {
        _disposed = true;

        // A killed process's handlers never return. In this process they would (a test opening their gate), free
        // their slots, and let the stopped silo's leftover tasks write to Redis: the test handlers check this flag.
        _life.Crashed = true;
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        try
        {
            await _host.StopAsync(cancelled.Token);
        }
        catch (OperationCanceledException)
        {
            // Expected: the stop was cut short on purpose.
        }

        _host.Dispose();
    }

    /// <summary>A graceful stop: the silo leaves the cluster and hands its running jobs on.</summary>
    public async Task StopAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            await _host.StopAsync(deadline.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Already crashed or slow to stop; either way it is gone.
        }

        _host.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>An Orleans client host that finds the silos through Redis, as the API process does.</summary>
public sealed class RedisClient : IAsyncDisposable
{
    private readonly IHost _host;

    private RedisClient(IHost host) => _host = host;

    public JobClient Jobs => _host.Services.GetRequiredService<JobClient>();

    public Schedules.ScheduleClient Schedules => _host.Services.GetRequiredService<Schedules.ScheduleClient>();

    /// <summary>The client's grain factory, for what the typed clients do not cover (e.g. the management grain).</summary>
    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>Starts a client; <paramref name="configure"/> adds to its setup (e.g. cluster TLS).</summary>
    public static async Task<RedisClient> StartAsync(RedisServer redis, ClusterIdentity identity, Action<IClientBuilder>? configure = null,
        CancellationToken cancellationToken = default)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ServiceId = identity.ServiceId;
                o.ClusterId = identity.ClusterId;
            });
            client.UseRedisClustering(o => o.ConfigurationOptions = RedisConnectionOptions.Create(redis.ConnectionString));
            configure?.Invoke(client);
        });
        builder.Services.AddSingleton<JobClient>();
        builder.Services.AddSingleton<Schedules.ScheduleClient>();
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            // A client that could not connect must not linger in the test process.
            host.Dispose();
            throw;
        }

        return new RedisClient(host);
    }

    public Task<JobSnapshot> WaitForAsync(string id, Func<JobSnapshot, bool> condition, TimeSpan? timeout = null) =>
        Jobs.UntilJobAsync(id, condition, timeout ?? TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        }
        catch (OperationCanceledException)
        {
            // Gone either way.
        }

        _host.Dispose();
    }
}

/// <summary>Whether the silo a test handler runs in has been "crashed" by <see cref="RedisSilo.CrashAsync"/>.</summary>
public sealed class SiloLife
{
    public volatile bool Crashed;
}
