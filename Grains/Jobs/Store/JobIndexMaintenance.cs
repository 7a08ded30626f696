using System.Globalization;
using Orleans.Storage;
using StackExchange.Redis;

namespace OrleansTasks.Jobs.Store;

/// <summary>
/// What a verify (or reindex) of the job indexes found; <see cref="Mismatches"/> is 0 when they are exact. After a fix,
/// the counts are what the fix found and <see cref="RemainingAfterFix"/> what a check right after it still found.
/// </summary>
/// <param name="Jobs">Job states under the indexed layout.</param>
/// <param name="LegacyJobs">Keys still in the stock provider's layout (a fix moves them), so neither listed nor counted.</param>
/// <param name="JobsMisindexed">Jobs whose index fields or entries disagree with their stored state.</param>
/// <param name="StaleEntries">Index entries no stored job accounts for.</param>
/// <param name="CountDifferences">The sum over statuses of how far the counts are from the scan.</param>
/// <param name="ListingDifferences">Ids the full listing has that the scan does not, and the other way round.</param>
public sealed record JobIndexReport(long Jobs, long LegacyJobs, long JobsMisindexed, long StaleEntries, long CountDifferences, long ListingDifferences)
{
    public long Mismatches => LegacyJobs + JobsMisindexed + StaleEntries + CountDifferences + ListingDifferences;

    /// <summary>Set by a fix: the mismatches left right after it (0 unless jobs changed meanwhile); null for a verify only.</summary>
    public long? RemainingAfterFix { get; init; }

    /// <summary>True when the indexes are exact: as found, or after the fix.</summary>
    public bool Exact => (RemainingAfterFix ?? Mismatches) == 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"jobs={Jobs} legacyJobs={LegacyJobs} misindexed={JobsMisindexed} staleEntries={StaleEntries} countDifferences={CountDifferences} listingDifferences={ListingDifferences}{(RemainingAfterFix is { } left ? $" (fixed; {left} left)" : string.Empty)}");
}

/// <summary>
/// Rebuilds or checks the job indexes from the stored job states, and moves jobs stored by the stock Orleans Redis
/// provider (before the indexed layout) to their new keys. Idempotent, and safe beside running silos: each fix is a
/// script that re-reads the job it fixes.
/// </summary>
public sealed class JobIndexMaintenance(IConnectionMultiplexer redis, JobKeys keys, IGrainStorageSerializer serializer, JobRetention retention)
{
    private const string LayoutMarkerSuffix = "/jobs/layout";

    // Drops one index entry unless the job's stored fields say it belongs there.
    private const string Unlist =
        """
        local p, id, set = ARGV[1], ARGV[2], KEYS[1]
        local cur = redis.call('HMGET', p .. 'job/' .. id, 's', 't', 'x')
        if cur[1] and (set == p .. 's/' .. cur[1] or set == p .. 'st/' .. cur[1] .. '/' .. cur[2] or (cur[3] and set == p .. 'exp')) then
          return 0
        end
        return redis.call('ZREM', set, id)
        """;

    private IDatabase Db => redis.GetDatabase();

    private string LayoutMarker => keys.ServiceId + LayoutMarkerSuffix;

    /// <summary>Moves every job still under a stock-provider key; skipped once a run has finished (<paramref name="force"/> runs anyway). Returns how many moved.</summary>
    public async Task<long> MigrateLegacyAsync(CancellationToken cancellationToken, bool force = false)
    {
        if (!force && await Db.StringGetAsync(LayoutMarker) == "2")
        {
            return 0;
        }

        var (_, moved) = await MoveLegacyAsync(move: true, cancellationToken);
        await Db.StringSetAsync(LayoutMarker, "2");
        return moved;
    }

    /// <summary>The stock-provider keys found, and how many of their jobs moved (none unless <paramref name="move"/>).</summary>
    private async Task<(long Found, long Moved)> MoveLegacyAsync(bool move, CancellationToken cancellationToken)
    {
        long found = 0, moved = 0;
        foreach (var server in Primaries())
        {
            await foreach (var legacy in server.KeysAsync(pattern: LegacyPattern, pageSize: 1000).WithCancellation(cancellationToken))
            {
                found++;
                if (!move)
                {
                    continue;
                }

                var fields = await Db.HashGetAsync(legacy, ["etag", "data"]);
                var id = IdOfLegacy(legacy.ToString());
                if (id is not null && !fields[1].IsNullOrEmpty)
                {
                    var state = serializer.Deserialize<JobState>(new BinaryData((byte[])fields[1]!)) ?? throw new InvalidDataException($"The stored state of job {id} reads as null.");
                    var etag = fields[0].IsNullOrEmpty ? Guid.NewGuid().ToString("N") : fields[0].ToString();

                    // Expected etag '' : a job already under its new key (a migration that ran before) is kept.
                    if ((int)await WriteAsync(id, state, string.Empty, etag, fields[1]) == 0)
                    {
                        moved++;
                    }
                }

                await Db.KeyDeleteAsync(legacy);
            }
        }

        return (found, moved);
    }

    /// <summary>
    /// Compares every index with a full scan of the stored job states (and the counts and a full listing with that
    /// scan); with <paramref name="fix"/>, moves legacy jobs, rewrites what differs and drops stale entries, then
    /// checks again (<see cref="JobIndexReport.RemainingAfterFix"/>). Exact only while no job changes during the scan:
    /// beside running silos, a job written mid-scan may show as a difference that a second run no longer finds.
    /// </summary>
    public async Task<JobIndexReport> VerifyAsync(IJobStore store, bool fix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);

        // Legacy jobs first: once moved, the scan below checks them like any other job.
        var (legacy, _) = await MoveLegacyAsync(fix, cancellationToken);
        if (fix)
        {
            await Db.StringSetAsync(LayoutMarker, "2");
        }

        // What the store answers, read before any fix so that the report says what was wrong.
        var counts = await store.CountsAsync(null);
        var listed = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var page in IndexStream.PagesAsync(store, new JobFilter(), 500).WithCancellation(cancellationToken))
        {
            listed.UnionWith(page.Items.Select(i => i.Id));
        }

        long jobs = 0, misindexed = 0, stale = 0;
        var byStatus = new Dictionary<JobStatus, long>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var p = 0; p < JobKeys.Partitions; p++)
        {
            var prefix = keys.Prefix(p);
            var expected = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
            var sets = new List<RedisKey>();
            foreach (var server in Primaries())
            {
                await foreach (var key in server.KeysAsync(pattern: EscapeGlob(prefix) + "*", pageSize: 1000).WithCancellation(cancellationToken))
                {
                    var name = key.ToString();
                    if (!name.StartsWith(prefix + "job/", StringComparison.Ordinal))
                    {
                        sets.Add(key);
                        continue;
                    }

                    var id = name[(prefix.Length + 4)..];
                    var fields = await Db.HashGetAsync(key, ["etag", "data", "s", "t", "x", "c", "m"]);
                    if (fields[1].IsNullOrEmpty)
                    {
                        continue;
                    }

                    jobs++;
                    ids.Add(id);
                    var state = serializer.Deserialize<JobState>(new BinaryData((byte[])fields[1]!)) ?? throw new InvalidDataException($"The stored state of job {id} reads as null.");
                    byStatus[state.Status] = byStatus.GetValueOrDefault(state.Status) + 1;
                    var entry = JobIndexEntry.Of(id, state, retention.ExpiresAt(state));
                    var memberships = new Dictionary<string, double>(StringComparer.Ordinal)
                    {
                        [keys.ByStatus(p, entry.Status)] = entry.CreatedMs,
                        [keys.ByStatusAndType(p, entry.Status, entry.Type)] = entry.CreatedMs,
                    };
                    if (entry.ExpiresMs is { } expires)
                    {
                        memberships[keys.Expiries(p)] = expires;
                    }

                    foreach (var (set, score) in memberships)
                    {
                        expected.TryAdd(set, new Dictionary<string, double>(StringComparer.Ordinal));
                        expected[set][id] = score;
                    }

                    // c and m (creation time, listing summary) were stored by an earlier layout: a rewrite drops them.
                    var storedRight = fields[2] == entry.StatusName && fields[3] == entry.Type
                        && fields[4] == (entry.ExpiresMs?.ToString(CultureInfo.InvariantCulture) ?? RedisValue.Null)
                        && fields[5].IsNull && fields[6].IsNull;
                    var indexedRight = true;
                    foreach (var (set, score) in memberships)
                    {
                        indexedRight &= await Db.SortedSetScoreAsync(set, id) == score;
                    }

                    if (!storedRight || !indexedRight)
                    {
                        misindexed++;
                        if (fix)
                        {
                            // Same etag: a silo holding this job writes on without a conflict.
                            await WriteAsync(id, state, fields[0].ToString(), fields[0].ToString(), fields[1]);
                        }
                    }
                }
            }

            foreach (var set in sets)
            {
                if (await Db.KeyTypeAsync(set) != RedisType.SortedSet)
                {
                    continue;
                }

                var want = expected.GetValueOrDefault(set.ToString());
                foreach (var member in await Db.SortedSetRangeByRankAsync(set))
                {
                    if (want?.ContainsKey(member.ToString()) != true)
                    {
                        stale++;
                        if (fix)
                        {
                            await Db.ScriptEvaluateAsync(Unlist, [set], [prefix, member]);
                        }
                    }
                }
            }
        }

        var countDifferences = Enum.GetValues<JobStatus>().Sum(s => Math.Abs(counts.Of(s) - byStatus.GetValueOrDefault(s)));
        var listingDifferences = (long)listed.Except(ids).Count() + ids.Except(listed).Count();

        var report = new JobIndexReport(jobs, legacy, misindexed, stale, countDifferences, listingDifferences);
        if (!fix)
        {
            return report;
        }

        // A check from scratch: the counts and listing as the store answers them now.
        var after = report.Mismatches == 0 ? report : await VerifyAsync(store, fix: false, cancellationToken);
        return report with { RemainingAfterFix = after.Mismatches };
    }

    private Task<RedisResult> WriteAsync(string id, JobState state, string expectedEtag, string newEtag, RedisValue data) =>
        RedisJobScripts.WriteAsync(Db, keys, JobIndexEntry.Of(id, state, retention.ExpiresAt(state)), expectedEtag, newEtag, data, reindex: true);

    private IEnumerable<IServer> Primaries() => redis.GetServers().Where(s => !s.IsReplica);

    // A glob character in the service id must match itself only.
    private string LegacyPattern => EscapeGlob(keys.ServiceId) + "/state/job/*/job";

    private string? IdOfLegacy(string key)
    {
        var head = keys.ServiceId + "/state/job/";
        return key.StartsWith(head, StringComparison.Ordinal) && key.EndsWith("/job", StringComparison.Ordinal) && key.Length > head.Length + 4
            ? key[head.Length..^4]
            : null;
    }

    private static string EscapeGlob(string text) =>
        string.Concat(text.Select(c => c is '*' or '?' or '[' or ']' or '\\' ? "\\" + c : c.ToString()));
}
