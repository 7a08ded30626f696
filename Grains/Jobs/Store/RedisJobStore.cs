using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;
using StackExchange.Redis;

namespace OrleansTasks.Jobs.Store;

/// <summary>
/// The job grain's Redis storage: each write stores the job's state and moves its index entries in one script (one
/// round trip, like the stock provider's), so listings and counts can never disagree with the stored states, whatever
/// crashes. Keys are laid out for Redis Cluster (<see cref="JobKeys"/>). The state is serialized exactly as the stock
/// provider did (the silo's grain storage serializer), so jobs it stored are read the same once migrated
/// (<see cref="JobIndexMaintenance"/>).
/// </summary>
public sealed partial class RedisJobStore(
    ConfigurationOptions redis,
    IOptions<ClusterOptions> cluster,
    IGrainStorageSerializer serializer,
    JobRetention retention,
    ILogger<RedisJobStore> logger) : IGrainStorage, IJobStore, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    /// <summary>Index entries one listing call looks at per set before answering with what it has.</summary>
    internal const int ScanBudget = 2000;

    private ConnectionMultiplexer? _connection;

    public JobKeys Keys { get; } = new(cluster.Value.ServiceId);

    private IDatabase Db => _connection?.GetDatabase() ?? throw new InvalidOperationException("The job store is not connected yet.");

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RedisJobStore), ServiceLifecycleStage.RuntimeStorageServices, ConnectAsync);

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _connection = await ConnectionMultiplexer.ConnectAsync(redis);

        // Jobs stored by a release before this layout get their new keys and index entries before any grain reads.
        var migrated = await new JobIndexMaintenance(_connection, Keys, serializer, retention).MigrateLegacyAsync(cancellationToken);
        if (migrated > 0)
        {
            LogMigrated(migrated);
        }
    }

    /// <summary>
    /// Connects outside a silo (the reindex command, the chaos run's check), without moving legacy jobs: those callers
    /// run <see cref="JobIndexMaintenance"/> themselves, and a verify only must change nothing. The store owns the
    /// connection it returns.
    /// </summary>
    public async Task<IConnectionMultiplexer> ConnectWithoutSiloAsync() => _connection ??= await ConnectionMultiplexer.ConnectAsync(redis);

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            await connection.DisposeAsync();
        }
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var key = KeyOf<T>(stateName, grainId);
        var fields = await Db.HashGetAsync(key, ["etag", "data"]);
        if (fields[0].IsNullOrEmpty || fields[1].IsNullOrEmpty)
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
            grainState.State = default!;
            return;
        }

        grainState.ETag = fields[0];
        grainState.State = serializer.Deserialize<T>(new BinaryData((ReadOnlyMemory<byte>)fields[1]));
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        if (grainState.State is not JobState state)
        {
            throw new NotSupportedException($"The job store keeps job states only, not {typeof(T).Name}.");
        }

        var id = grainId.Key.ToString()!;
        var entry = JobIndexEntry.Of(id, state, retention.ExpiresAt(state));
        var etag = Guid.NewGuid().ToString("N");
        var result = await RedisJobScripts.WriteAsync(Db, Keys, entry, grainState.ETag ?? string.Empty, etag,
            serializer.Serialize(state).ToMemory(), reindex: false, change: Progress.JobChanges.Of(id, state).ToJson());
        if ((int)result == -1)
        {
            throw new InconsistentStateException($"Job '{id}' was changed or removed in storage by someone else (etag {grainState.ETag}).");
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var id = grainId.Key.ToString()!;
        var prefix = Keys.Prefix(JobKeys.PartitionOf(id));
        var result = await Db.ScriptEvaluateAsync(RedisJobScripts.Delete, [JobKeys.JobIn(prefix, id)], [grainState.ETag ?? "*", prefix, id]);
        if ((int)result == -1)
        {
            throw new InconsistentStateException($"Job '{id}' was changed in storage by someone else (etag {grainState.ETag}).");
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = default!;
    }

    public async Task<JobPage> ListAsync(JobFilter filter, int limit, JobCursor? after)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var (max, min) = ScoreRange(filter, after);
        var calls = Enumerable.Range(0, JobKeys.Partitions).Select(p => Db.ScriptEvaluateAsync(RedisJobScripts.List,
            [.. Keys.SetsFor(p, filter).Select(k => (RedisKey)k)],
            [max, after?.CreatedMs.ToString(CultureInfo.InvariantCulture) ?? string.Empty, after?.Id ?? string.Empty, min, limit,
                filter.IdPrefix ?? string.Empty, ScanBudget])).ToList();
        var streams = new List<IndexStream>();
        foreach (var call in calls)
        {
            streams.AddRange(IndexStream.Parse((RedisResult[])(await call)!));
        }

        var (ids, next) = IndexStream.Merge(streams, limit);
        // Listings read the stored states rather than a summary kept beside each: a page is read once, a job is
        // written several times, and the hot path is the writes.
        var states = ids.Select(id => (Id: id, Data: Db.HashGetAsync(Keys.Job(id), "data"))).ToList();
        var items = new List<JobSummary>(ids.Count);
        foreach (var (id, data) in states)
        {
            // A job removed between the two reads is simply not listed.
            if ((byte[]?)await data is { Length: > 0 } bytes && serializer.Deserialize<JobState>(new BinaryData(bytes)) is { } state)
            {
                items.Add(JobIndexEntry.Summary(id, state, retention.ExpiresAt(state)));
            }
        }

        return new JobPage(items, next?.Encode());
    }

    public async Task<JobCounts> CountsAsync(string? type)
    {
        var cards = Enum.GetValues<JobStatus>().ToDictionary(s => s, s => Enumerable.Range(0, JobKeys.Partitions)
            .Select(p => Db.SortedSetLengthAsync(type is null ? Keys.ByStatus(p, s) : Keys.ByStatusAndType(p, s, type))).ToList());
        var totals = new Dictionary<JobStatus, long>();
        foreach (var (status, calls) in cards)
        {
            totals[status] = (await Task.WhenAll(calls)).Sum();
        }

        return JobCounts.From(s => totals[s]);
    }

    public async Task<long> CountMatchingAsync(JobFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (filter.IdPrefix is not null)
        {
            return await IndexStream.CountByWalkingAsync(this, filter);
        }

        var (max, min) = ScoreRange(filter, null);
        var calls = Enumerable.Range(0, JobKeys.Partitions).SelectMany(p => Keys.SetsFor(p, filter))
            .Select(key => Db.SortedSetLengthAsync(key, Score(min), Score(max), Exclude(min, max))).ToList();
        return (await Task.WhenAll(calls)).Sum();
    }

    public async Task<int> SweepExpiredAsync(DateTimeOffset now, int max)
    {
        var calls = Enumerable.Range(0, JobKeys.Partitions).Select(p => Db.ScriptEvaluateAsync(RedisJobScripts.Sweep,
            [Keys.Expiries(p)], [Keys.Prefix(p), now.ToUnixTimeMilliseconds(), Math.Max(1, max / JobKeys.Partitions)])).ToList();
        var removed = 0;
        foreach (var call in calls)
        {
            removed += (int)await call;
        }

        return removed;
    }

    public async Task<int> TrimAsync(JobStatus status, long keep, int max)
    {
        var total = (await CountsAsync(null)).Of(status);
        var excess = (int)Math.Min(max, total - keep);
        if (excess <= 0)
        {
            return 0;
        }

        // The oldest of each partition, merged: the excess oldest overall are among them.
        var heads = Enumerable.Range(0, JobKeys.Partitions).Select(async p =>
            (await Db.SortedSetRangeByRankWithScoresAsync(Keys.ByStatus(p, status), 0, excess - 1)).Select(e => (Partition: p, Id: e.Element.ToString(), e.Score))).ToList();
        var oldest = (await Task.WhenAll(heads)).SelectMany(h => h)
            .OrderBy(e => e.Score).ThenBy(e => e.Id, StringComparer.Ordinal).Take(excess);
        var removed = 0;
        foreach (var group in oldest.GroupBy(e => e.Partition))
        {
            removed += (int)await Db.ScriptEvaluateAsync(RedisJobScripts.Trim, [Keys.ByStatus(group.Key, status)],
                [Keys.Prefix(group.Key), status.ToWireName(), .. group.Select(e => (RedisValue)e.Id)]);
        }

        return removed;
    }

    /// <summary>Inclusive or exclusive score bounds in Redis syntax for the filter's times and the cursor.</summary>
    private static (string Max, string Min) ScoreRange(JobFilter filter, JobCursor? after)
    {
        var max = "+inf";
        if (filter.CreatedBefore is { } before)
        {
            max = "(" + before.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        }

        if (after is { } cursor && (filter.CreatedBefore is not { } b || cursor.CreatedMs < b.ToUnixTimeMilliseconds()))
        {
            max = cursor.CreatedMs.ToString(CultureInfo.InvariantCulture);
        }

        var min = filter.CreatedAfter is { } from ? "(" + from.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) : "-inf";
        return (max, min);
    }

    private static double Score(string bound) => bound switch
    {
        "+inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        _ => double.Parse(bound.TrimStart('('), CultureInfo.InvariantCulture),
    };

    private static Exclude Exclude(string min, string max) =>
        (min.StartsWith('(') ? StackExchange.Redis.Exclude.Start : StackExchange.Redis.Exclude.None)
        | (max.StartsWith('(') ? StackExchange.Redis.Exclude.Stop : StackExchange.Redis.Exclude.None);

    private RedisKey KeyOf<T>(string stateName, GrainId grainId) => typeof(T) == typeof(JobState)
        ? Keys.Job(grainId.Key.ToString()!)

        // Other records (the readiness probe's) read beside the jobs, as the stock provider named them.
        : $"{Keys.ServiceId}/state/{grainId}/{stateName}";

    [LoggerMessage(600, LogLevel.Warning, "Job storage: moved {Count} jobs stored by an earlier release to the indexed layout")]
    private partial void LogMigrated(long count);
}
