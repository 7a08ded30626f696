using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;
using OrleansTasks.Examples;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>Settings every test silo shares: short example durations, a small worker pool, fast recovery ticks.</summary>
public static class TestSiloSettings
{
    public const int MaxConcurrency = 4;

    public static Dictionary<string, string?> Values(string? redis = null) => new()
    {
        ["Jobs:MaxConcurrency"] = MaxConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Jobs:RecoveryInterval"] = "00:00:02",
        ["Jobs:CancelGrace"] = "00:00:01",
        ["Examples:EmailDuration"] = "00:00:00.100",
        ["Examples:ReportDuration"] = "00:00:00.100",
        ["Examples:ImageDuration"] = "00:00:00.100",
        [ClusterSettings.RedisKey] = redis,
    };

    /// <summary>The production engine wiring plus the test job types (or only <paramref name="jobs"/>), on one test silo.</summary>
    public static void Apply(IHostApplicationBuilder host, string? redis, LogCapture? logs = null, Action<JobTypeRegistryBuilder>? jobs = null)
    {
        host.Configuration.AddInMemoryCollection(Values(redis));
        host.Services.AddOrleansTasks(jobs ?? (all => all.AddExampleJobs().AddTestJobs()));
        if (logs is not null)
        {
            host.Services.AddSingleton<ILoggerProvider>(logs);
        }
    }
}

/// <summary>One in-memory silo shared by the engine tests (sequential within the collection).</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan ShortResponseTimeout = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan ShortCollectionAge = TimeSpan.FromSeconds(3);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public JobClient Jobs => new(Cluster.Client);

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) =>
        {
            TestSiloSettings.Apply(host, redis: null, Logs);

            // Reminder ticks count as activity; keep them rarer than the collection age so they cannot hide a
            // running job's activation being collected. Nothing crashes in this cluster, so recovery speed is moot.
            host.Configuration["Jobs:RecoveryInterval"] = "00:00:10";
        });
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddJobProviders(redis: null);

            // Short enough that a handler outlives both, to prove neither cuts it off.
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = ShortResponseTimeout);
            silo.Configure<GrainCollectionOptions>(o =>
            {
                o.CollectionQuantum = TimeSpan.FromSeconds(1);
                o.CollectionAge = ShortCollectionAge;
            });
        });
        builder.ConfigureClient(client => client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ShortResponseTimeout));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>Polls the job until it reaches a terminal state.</summary>
    public Task<JobSnapshot> WaitForTerminalAsync(string id, TimeSpan? timeout = null) =>
        WaitForAsync(id, s => s.Status.IsTerminal(), timeout);

    public Task<JobSnapshot> WaitForAsync(string id, Func<JobSnapshot, bool> condition, TimeSpan? timeout = null) =>
        Jobs.UntilJobAsync(id, condition, timeout);
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "in-memory cluster";
}
