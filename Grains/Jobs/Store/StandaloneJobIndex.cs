using System.Collections.Frozen;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;

namespace OrleansTasks.Jobs.Store;

/// <summary>
/// The job store and its index maintenance connected straight to Redis, without a silo: for the reindex command
/// (<c>OrleansTasks.Silo reindex</c>) and the chaos run's check of the indexes after its kills.
/// </summary>
public sealed class StandaloneJobIndex : IAsyncDisposable
{
    private readonly RedisJobStore _store;
    private readonly JobIndexMaintenance _maintenance;

    private StandaloneJobIndex(RedisJobStore store, JobIndexMaintenance maintenance)
    {
        _store = store;
        _maintenance = maintenance;
    }

    /// <summary>The store as the silo reads it: listings and counts from the indexes.</summary>
    public IJobStore Store => _store;

    /// <summary>
    /// Connects to <paramref name="redis"/> for service <paramref name="serviceId"/>. <paramref name="retention"/>
    /// decides each finished job's expiry entry, so it must be the silos' (their <c>Jobs:Retention</c> and job types).
    /// </summary>
    public static async Task<StandaloneJobIndex> ConnectAsync(ConfigurationOptions redis, string serviceId, JobRetention retention)
    {
        var serializer = StorageSerializer();
        var store = new RedisJobStore(redis, Options.Create(new ClusterOptions { ServiceId = serviceId }), serializer, retention,
            NullLogger<RedisJobStore>.Instance);
        try
        {
            var connection = await store.ConnectWithoutSiloAsync();
            return new StandaloneJobIndex(store, new JobIndexMaintenance(connection, store.Keys, serializer, retention));
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>A retention from <c>Jobs:Retention</c> alone: for job types registered without a retention of their own.</summary>
    public static JobRetention RetentionOf(JobsOptions options) =>
        new(Options.Create(options), new JobTypeRegistry(FrozenDictionary<string, JobTypeDefinition>.Empty));

    /// <summary>
    /// The silo's grain storage serializer (<c>UseSystemTextJsonGrainStorageSerializer</c>) built without a silo. A
    /// silo's options also get converters for IP addresses, endpoints and grain references, which need a runtime;
    /// a job state holds none of them, so it reads and writes the same bytes here as in a silo.
    /// </summary>
    public static IGrainStorageSerializer StorageSerializer() =>
        new SystemTextJsonGrainStorageSerializer(Options.Create(new SystemTextJsonGrainStorageSerializerOptions()));

    /// <inheritdoc cref="JobIndexMaintenance.VerifyAsync"/>
    public Task<JobIndexReport> VerifyAsync(bool fix, CancellationToken cancellationToken) => _maintenance.VerifyAsync(_store, fix, cancellationToken);

    public ValueTask DisposeAsync() => _store.DisposeAsync();
}
