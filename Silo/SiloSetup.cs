using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Storage;
using OrleansTasks.Infrastructure;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Silo;

/// <summary>The silo's wiring, shared by the real host and the tests so both run the same configuration.</summary>
public static class SiloSetup
{
    /// <summary>Shortest reminder period the engine registers; see <see cref="JobsOptions.RecoveryInterval"/>.</summary>
    public static readonly TimeSpan MinimumReminderPeriod = TimeSpan.FromSeconds(1);

    /// <summary>How long Redis keeps a bulk operation after its last write (its end, once completed).</summary>
    public static readonly TimeSpan OperationRetention = TimeSpan.FromDays(7);

    /// <summary>
    /// Storage and reminders: Redis when <paramref name="redis"/> is set, else in memory. Clustering is left to the
    /// caller (the test host brings its own). <paramref name="redisTlsCaPath"/> is <c>Redis:TlsCaPath</c>
    /// (<see cref="ClusterSettings.RedisTlsCaPath"/>).
    /// </summary>
    public static ISiloBuilder AddJobProviders(this ISiloBuilder silo, string? redis, string? redisTlsCaPath = null)
    {
        ArgumentNullException.ThrowIfNull(silo);

        // The engine's reminders tick every Jobs:RecoveryInterval (15 s by default), below Orleans' 1 minute floor.
        silo.Configure<ReminderOptions>(o =>
        {
            o.MinimumReminderPeriod = MinimumReminderPeriod;

            // In 10.4.2 an unregistered reminder can stay in the owning silo's in-memory list (with its timer)
            // until the periodic refresh reconciles the list with the table: with a reminder per job that held
            // ~1 KB per finished job, 90 MB after 100,000 jobs (bench memory workload, dotnet-gcdump). Refreshing
            // every 30 s instead of 5 min bounds it to the last half minute of jobs.
            o.RefreshReminderListPeriod = TimeSpan.FromSeconds(30);
        });

        // System.Text.Json builds records through their constructors. The default Newtonsoft serializer populates
        // property objects in place, which silently restored every job's policy as the defaults.
        silo.UseSystemTextJsonGrainStorageSerializer();

        // Orleans caches the location of every grain it has called, up to a million entries: with a grain per
        // job that is a cache of finished jobs growing with every job run (about 1 KB each, measured by the
        // bench's memory workload). Jobs are called a handful of times each, so a small cache loses nothing.
        silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = 10_000);

        // Each silo tells the others which job types it can run, so that during a rolling deploy a job placed on a
        // silo without its type is checked and run where the type is (JobTypeDirectory). The dictionary is read when
        // the metadata options are built, after this earlier Configure has filled it from the registry.
        var published = new Dictionary<string, string>(StringComparer.Ordinal);
        silo.Services.TryAddSingleton(new AdvertisedFeatures(JobFeatures.All));
        silo.Services.AddOptions<SiloMetadata>().Configure<JobTypeRegistry, AdvertisedFeatures>((_, registry, features) =>
        {
            published[JobTypeDirectory.MetadataKey] = JobTypeDirectory.Publish(registry);
            published[JobTypeDirectory.FeaturesKey] = string.Join(',', features.Names);
        });
        silo.UseSiloMetadata(published);
        silo.Services.AddSingleton<JobTypeDirectory>();
        if (string.IsNullOrWhiteSpace(redis))
        {
            silo.Services.AddSingleton<MemoryJobStore>();
            silo.Services.AddSingleton<IJobStore>(sp => sp.GetRequiredService<MemoryJobStore>());
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Jobs, (sp, _) => sp.GetRequiredService<MemoryJobStore>());
            silo.UseInMemoryReminderService();
            silo.AddMemoryGrainStorage(StorageNames.Schedules);
            silo.AddMemoryGrainStorage(StorageNames.Operations);
        }
        else
        {
            var redisOptions = RedisConnectionOptions.Create(redis, redisTlsCaPath);

            // A refused password (or TLS certificate) stops start-up with a clear error instead of endless retries.
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp =>
                new RedisCredentialsCheck(redis, sp.GetRequiredService<ILogger<RedisCredentialsCheck>>(), redisTlsCaPath));

            // The job grain's own Redis storage: state and index entries in one atomic script (docs/design.md).
            silo.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<RedisJobStore>(sp, redisOptions));
            silo.Services.AddSingleton<IJobStore>(sp => sp.GetRequiredService<RedisJobStore>());
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RedisJobStore>());
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Jobs, (sp, _) => sp.GetRequiredService<RedisJobStore>());
            silo.UseRedisReminderService(o => o.ConfigurationOptions = redisOptions);
            silo.AddRedisGrainStorage(StorageNames.Schedules, o =>
            {
                o.ConfigurationOptions = redisOptions;

                // A deleted schedule's key goes entirely (the stock default leaves an empty hash behind).
                o.DeleteStateOnClear = true;
            });

            // Bulk operations: a few small records, written once per page. Stock storage suffices (nothing lists
            // them); each record expires a week after its last write, which for a finished operation is its end.
            // EntryExpiry is documented as risky because an expired key under a live activation breaks its next
            // write; an operation writes every page while it runs and never after it completes.
            silo.AddRedisGrainStorage(StorageNames.Operations, o =>
            {
                o.ConfigurationOptions = redisOptions;
                o.DeleteStateOnClear = true;
                o.EntryExpiry = OperationRetention;
            });

            // New jobs are refused above the Redis memory watermark, keeping the rest for accepted jobs' outcomes.
            silo.Services.AddHostedService(sp => new RedisHeadroomMonitor(redis, sp.GetRequiredService<StorageHeadroom>(),
                sp.GetRequiredService<IOptions<JobsOptions>>(), sp.GetRequiredService<ILogger<RedisHeadroomMonitor>>(), redisTlsCaPath));
        }

        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SweeperStarter>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, Schedules.CodeScheduleStarter>();

        // Storage failures reach clients as JobStorageUnavailableException, which they can load (the provider's own
        // exception types live in assemblies only silos have).
        silo.Services.AddJobStorageBoundary(StorageNames.Jobs);
        silo.Services.AddJobStorageBoundary(StorageNames.Schedules);
        silo.Services.AddJobStorageBoundary(StorageNames.Operations);

        // Prometheus on Metrics:Port, OTLP on OTEL_EXPORTER_OTLP_ENDPOINT; neither by default.
        silo.AddObservability();
        return silo;
    }

    /// <summary>
    /// A connection of the silo's own that may send admin commands (CONFIG GET, INFO), kept apart from the providers'
    /// connections, which never need them.
    /// </summary>
    public static Task<ConnectionMultiplexer> ConnectAdminAsync(string connectionString, string? tlsCaPath = null)
    {
        var options = RedisConnectionOptions.Create(connectionString, tlsCaPath);
        options.AllowAdmin = true;
        return ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>Configuration section bound to <see cref="ClusterMembershipOptions"/> (failure detection).</summary>
    public const string MembershipSection = "Orleans:Membership";

    /// <summary>Configuration key of the address other silos and clients reach this silo at (Redis clustering only).</summary>
    public const string AdvertisedAddressKey = $"{ClusterSettings.SectionName}:Endpoints:AdvertisedIPAddress";

    /// <summary>
    /// The address to advertise when <see cref="AdvertisedAddressKey"/> is not set: in a container, its own address on
    /// the container network. Same choice as Orleans' own default (the lowest non-loopback IPv4 address of an interface
    /// that is up), except that Orleans then falls back to loopback, which no other silo or client can reach: a silo
    /// that advertised it would join the membership table unreachable, so here it is a start-up error instead.
    /// </summary>
    public static IPAddress DefaultAdvertisedAddress() =>
        PickAdvertisedAddress(NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus == OperationalStatus.Up)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address));

    /// <summary>The lowest non-loopback IPv4 address of <paramref name="candidates"/>; throws naming the key to set when there is none.</summary>
    /// <exception cref="OrleansConfigurationException">No candidate is a non-loopback IPv4 address.</exception>
    public static IPAddress PickAdvertisedAddress(IEnumerable<IPAddress> candidates) =>
        candidates
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .OrderBy(a => BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes()))
            .FirstOrDefault()
        ?? throw new OrleansConfigurationException(
            "This machine has no non-loopback IPv4 address on an interface that is up, so the silo has no address to advertise " +
            $"to other silos and clients. Set {AdvertisedAddressKey} (environment variable {AdvertisedAddressKey.Replace(":", "__", StringComparison.Ordinal)}) " +
            "to the address they reach this silo at.");

    /// <summary>Cluster identity, endpoints and clustering for a real (non-test) silo, from <paramref name="configuration"/>.</summary>
    public static ISiloBuilder AddClustering(this ISiloBuilder silo, IConfiguration configuration) =>
        silo.AddClustering(ClusterSettings.Bind(configuration), configuration);

    /// <summary>Cluster identity, endpoints and clustering for a real (non-test) silo.</summary>
    /// <param name="silo">The silo being built.</param>
    /// <param name="settings">The bound cluster settings (<see cref="ClusterSettings.Bind"/>).</param>
    /// <param name="configuration">The configuration, for the <see cref="MembershipSection"/> failure-detection settings.</param>
    public static ISiloBuilder AddClustering(this ISiloBuilder silo, ClusterSettings settings, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(configuration);

        // Failure detection (ProbeTimeout, NumMissedProbesLimit, ...) is tunable without a rebuild.
        silo.Services.AddOptions<ClusterMembershipOptions>().BindSection(MembershipSection);
        var endpoints = settings.Endpoints;
        if (settings.Tls.Enabled)
        {
            silo.UseClusterTls(settings.Tls);
        }

        if (!settings.Durable)
        {
            return silo.UseLocalhostClustering(endpoints.SiloPort, endpoints.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
        }

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });
        silo.Configure<EndpointOptions>(o =>
        {
            o.SiloPort = endpoints.SiloPort;
            o.GatewayPort = endpoints.GatewayPort;
            o.AdvertisedIPAddress = endpoints.AdvertisedIPAddress is { Length: > 0 } address ? IPAddress.Parse(address) : DefaultAdvertisedAddress();
        });
        var redisOptions = RedisConnectionOptions.Create(settings);
        return silo.UseRedisClustering(o => o.ConfigurationOptions = redisOptions);
    }

    /// <summary>
    /// Mutual TLS on the silo port (inbound and outbound) and the gateway port: this silo presents its certificate and
    /// accepts only peers and clients whose certificate <paramref name="tls"/>'s validator trusts.
    /// </summary>
    public static ISiloBuilder UseClusterTls(this ISiloBuilder silo, ClusterTls tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        var certificate = tls.LoadCertificate();
        var validator = tls.CreateValidator();
        return silo.UseTls(certificate, options =>
        {
            // Both directions demand a certificate: a client or silo without one is refused at the handshake, and this
            // silo, dialling another, must present its own.
            options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;

            // Replaces the system's policy check, whose trusted roots say nothing about who belongs to this cluster.
            options.RemoteCertificateValidation = (peer, presented, _) => validator.IsTrusted(peer, presented);
        });
    }
}

/// <summary>Start-up log lines that tell an operator how durable this silo is.</summary>
public static partial class SiloLog
{
    [LoggerMessage(100, LogLevel.Warning, "No ConnectionStrings:Redis configured: running with IN-MEMORY storage and reminders. NOTHING IS DURABLE: jobs are lost when this silo stops. Set ConnectionStrings__Redis for production.")]
    public static partial void NotDurable(ILogger logger);

    [LoggerMessage(101, LogLevel.Information, "Durable mode: job state, reminders and membership in Redis at {Endpoints}")]
    public static partial void Durable(ILogger logger, string endpoints);

    [LoggerMessage(102, LogLevel.Information, "Cluster TLS on: silo and gateway connections need a certificate issued by {Authority} or with one of {Thumbprints} configured thumbprints")]
    public static partial void Tls(ILogger logger, string authority, int thumbprints);

    [LoggerMessage(103, LogLevel.Warning, "Cluster TLS off: the silo port {SiloPort} and gateway port {GatewayPort} accept anyone who reaches them. Keep them on a trusted network, or set Orleans:Tls:CertificatePath (docs/security.md)")]
    public static partial void NoTls(ILogger logger, int siloPort, int gatewayPort);
}
