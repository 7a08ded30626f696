using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Hangfire;
using Hangfire.Redis.StackExchange;
using Microsoft.AspNetCore.Builder;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Api.Jobs;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;

namespace OrleansTasks.Bench;

/// <summary>
/// One system under test, hosted in this process as a web application: its workers, its Redis storage and a
/// POST /jobs endpoint on loopback. Both systems get exactly this layout.
/// </summary>
public interface ISystemUnderTest : IAsyncDisposable
{
    string Name { get; }

    Uri BaseAddress { get; }

    /// <summary>The JSON body POST /jobs takes for one no-op job.</summary>
    string HttpBody { get; }

    Task EnqueueNoopAsync(long enqueuedAt);

    Task EnqueueFailOnceAsync(string key);

    /// <summary>Waits until no job is in flight any more: its bookkeeping after the handler ran is done too.</summary>
    Task WaitIdleAsync();
}

public static class Ports
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The host both systems get: a slim web application on a free loopback port, no logging.</summary>
    public static (WebApplicationBuilder Builder, Uri BaseAddress) NewHost()
    {
        var port = Free();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        return (builder, new Uri($"http://127.0.0.1:{port}"));
    }
}

public sealed class OrleansTasksSystem : ISystemUnderTest
{
    private readonly WebApplication _app;
    private readonly JobClient _jobs;
    private readonly StackExchange.Redis.ConnectionMultiplexer _observer;
    private readonly string _serviceId;

    private OrleansTasksSystem(WebApplication app, Uri baseAddress, StackExchange.Redis.ConnectionMultiplexer observer, string serviceId)
    {
        _app = app;
        BaseAddress = baseAddress;
        _observer = observer;
        _serviceId = serviceId;
        _jobs = app.Services.GetRequiredService<JobClient>();
    }

    /// <summary>The silo's services (its <see cref="JobClient"/>, its grain factory).</summary>
    public IServiceProvider Services => _app.Services;

    public string Name => "OrleansTasks";

    public Uri BaseAddress { get; }

    public string HttpBody => """{"type":"bench_noop","payload":{"enqueuedAt":0}}""";

    /// <param name="redis">The Redis endpoint.</param>
    /// <param name="settings">Configuration on top of the bench's (e.g. <c>Jobs:Retention:*</c>); null for none.</param>
    public static async Task<OrleansTasksSystem> StartAsync(string redis, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var (builder, baseAddress) = Ports.NewHost();
        var id = $"bench-{Guid.NewGuid():N}";
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [ClusterSettings.RedisKey] = redis,
            ["Orleans:ClusterId"] = id,
            ["Orleans:ServiceId"] = id,
            ["Orleans:Endpoints:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",
            ["Jobs:MaxConcurrency"] = "20",
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.UseOrleans(silo => silo.AddClustering(builder.Configuration).AddJobProviders(redis));
        builder.Services.AddOrleansTasks(jobs => jobs.AddBenchJobs());
        builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        builder.Services.AddProblemDetails();

        // The API's own security, as deployed: no key configured, so the bench's loopback client is served. Lines
        // marked ab:needs are left out of an A/B's older side that lacks what they call (bench/ab.sh).
        builder.AddApiSecurity(); // ab:needs AddApiSecurity
        builder.AddJobEvents(); // ab:needs AddJobEvents
        var app = builder.Build();
        app.UseApiSecurity(); // ab:needs UseApiSecurity
        app.MapJobsApi();
        app.MapJobEventsApi(); // ab:needs MapJobEventsApi
        app.MapJobQueriesApi(); // ab:needs MapJobQueriesApi
        app.MapBulkApi(); // ab:needs MapBulkApi
        await app.StartAsync();

        // The bench's own connection, named so that Redis accounting leaves its polling out.
        var observer = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"{redis},name={RedisAccounting.ObserverName}");
        return new OrleansTasksSystem(app, baseAddress, observer, id);
    }

    public async Task EnqueueNoopAsync(long enqueuedAt) => Check(await _jobs.EnqueueAsync(new BenchNoop(enqueuedAt)));

    /// <summary>A job is done with all its bookkeeping once its wake-up reminder is gone.</summary>
    public async Task WaitIdleAsync()
    {
        // Every job's wake-up is gone (the retention sweeper's own reminder stays)...
        while ((await _observer.GetDatabase().SortedSetRangeByRankAsync($"{_serviceId}/reminders")).Any(r => r.ToString().Contains("job/", StringComparison.Ordinal)))
        {
            await Task.Delay(50);
        }

        // ... and its activation is gone.
        var management = _app.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        while ((await management.GetSimpleGrainStatistics()).Where(s => s.GrainType.Contains("JobGrain", StringComparison.Ordinal)).Sum(s => s.ActivationCount) > 0)
        {
            await Task.Delay(50);
        }
    }

    public async Task EnqueueFailOnceAsync(string key) => Check(await _jobs.EnqueueAsync(new BenchFailOnce(key)));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _observer.DisposeAsync();
    }

    private static void Check(EnqueueResult result)
    {
        if (result.Outcome != EnqueueOutcome.Created)
        {
            throw new InvalidOperationException($"enqueue failed: {result.Outcome} {result.Detail}");
        }
    }
}

/// <summary>POST /jobs body on the Hangfire side, parsed as the OrleansTasks side parses its own.</summary>
public sealed record HangfireJobRequest(string Type, Dictionary<string, long>? Payload);

public sealed class HangfireSystem : ISystemUnderTest
{
    private readonly WebApplication _app;
    private readonly IBackgroundJobClient _jobs;

    private HangfireSystem(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        _jobs = app.Services.GetRequiredService<IBackgroundJobClient>();
    }

    public string Name => "Hangfire";

    public Uri BaseAddress { get; }

    public string HttpBody => """{"type":"noop","payload":{"enqueuedAt":0}}""";

    public static async Task<HangfireSystem> StartAsync(string redis)
    {
        var (builder, baseAddress) = Ports.NewHost();

        // The fair configuration: 20 workers, 1 s fetch timeout, 1 s schedule polling.
        builder.Services.AddHangfire(configuration => configuration
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseRedisStorage(redis, new RedisStorageOptions { Prefix = $"{{hf-{Guid.NewGuid():N}}}:", FetchTimeout = TimeSpan.FromSeconds(1) }));
        builder.Services.AddHangfireServer(options =>
        {
            options.WorkerCount = 20;
            options.SchedulePollingInterval = TimeSpan.FromSeconds(1);
        });
        var app = builder.Build();
        app.MapPost("/jobs", (HangfireJobRequest request, IBackgroundJobClient jobs) =>
        {
            var id = jobs.Enqueue(() => HangfireJobs.Noop(request.Payload == null ? 0 : request.Payload.GetValueOrDefault("enqueuedAt")));
            return TypedResults.Accepted($"/jobs/{id}", new { id });
        });
        await app.StartAsync();
        return new HangfireSystem(app, baseAddress);
    }

    public Task EnqueueNoopAsync(long enqueuedAt)
    {
        _jobs.Enqueue(() => HangfireJobs.Noop(enqueuedAt));
        return Task.CompletedTask;
    }

    public Task EnqueueFailOnceAsync(string key)
    {
        _jobs.Enqueue(() => HangfireJobs.FailOnce(key));
        return Task.CompletedTask;
    }

    public async Task WaitIdleAsync()
    {
        var monitoring = _app.Services.GetRequiredService<JobStorage>().GetMonitoringApi();
        while (monitoring.ProcessingCount() > 0 || monitoring.EnqueuedCount("default") > 0)
        {
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
