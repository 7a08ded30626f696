using Orleans.Storage;

namespace OrleansTasks.Jobs.Store;

/// <summary>
/// The job grain's storage when no Redis is configured: a single silo's memory, nothing durable. It answers listings
/// and counts with the same semantics as <see cref="RedisJobStore"/> (newest first, cursor after the last item).
/// </summary>
public sealed class MemoryJobStore(JobRetention retention) : IGrainStorage, IJobStore
{
    /// <summary>Raised after each stored write (outside the store's lock): the live events of jobs without Redis.</summary>
    public event Action<JobChange>? Changed;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Stored> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<(JobStatus Status, string? Type), long> _counts = [];

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        lock (_lock)
        {
            if (typeof(T) == typeof(JobState) && _jobs.TryGetValue(IdOf(grainId), out var stored))
            {
                grainState.State = (T)(object)stored.State;
                grainState.ETag = stored.ETag;
                grainState.RecordExists = true;
            }
            else
            {
                grainState.State = default!;
                grainState.ETag = null;
                grainState.RecordExists = false;
            }
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        if (grainState.State is not JobState state)
        {
            throw new NotSupportedException($"The job store keeps job states only, not {typeof(T).Name}.");
        }

        var id = IdOf(grainId);
        var etag = Guid.NewGuid().ToString("N");
        lock (_lock)
        {
            var current = _jobs.GetValueOrDefault(id);
            if (current?.ETag != grainState.ETag)
            {
                throw new InconsistentStateException($"Job '{id}' was changed or removed in storage by someone else (etag {grainState.ETag}).");
            }

            if (current is not null)
            {
                Count(current.Entry, -1);
            }

            var expiresAt = retention.ExpiresAt(state);
            var entry = JobIndexEntry.Of(id, state, expiresAt);
            _jobs[id] = new Stored(state, etag, entry, JobIndexEntry.Summary(id, state, expiresAt));
            Count(entry, +1);
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
        Changed?.Invoke(Progress.JobChanges.Of(id, state));
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var id = IdOf(grainId);
        lock (_lock)
        {
            if (_jobs.TryGetValue(id, out var current))
            {
                if (grainState.ETag is not null && current.ETag != grainState.ETag)
                {
                    throw new InconsistentStateException($"Job '{id}' was changed in storage by someone else (etag {grainState.ETag}).");
                }

                Remove(id, current);
            }
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = default!;
        return Task.CompletedTask;
    }

    public Task<JobPage> ListAsync(JobFilter filter, int limit, JobCursor? after)
    {
        ArgumentNullException.ThrowIfNull(filter);
        List<Stored> matching;
        lock (_lock)
        {
            matching = [.. _jobs.Values.Where(j => Matches(filter, j.Entry) && (after is not { } c || c.IsAfter(j.Entry.CreatedMs, j.Entry.Id)))];
        }

        var page = matching.OrderByDescending(j => j.Entry.CreatedMs).ThenByDescending(j => j.Entry.Id, StringComparer.Ordinal).Take(limit + 1).ToList();
        var items = page.Take(limit).ToList();
        var next = page.Count > limit ? new JobCursor(items[^1].Entry.CreatedMs, items[^1].Entry.Id).Encode() : null;
        return Task.FromResult(new JobPage([.. items.Select(j => j.Summary)], next));
    }

    public Task<JobCounts> CountsAsync(string? type)
    {
        lock (_lock)
        {
            return Task.FromResult(JobCounts.From(s => _counts.GetValueOrDefault((s, type))));
        }
    }

    public Task<long> CountMatchingAsync(JobFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_lock)
        {
            return Task.FromResult((long)_jobs.Values.Count(j => Matches(filter, j.Entry)));
        }
    }

    public Task<int> SweepExpiredAsync(DateTimeOffset now, int max)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        lock (_lock)
        {
            var expired = _jobs.Where(j => j.Value.Entry.ExpiresMs <= nowMs).Take(max).ToList();
            foreach (var (id, stored) in expired)
            {
                Remove(id, stored);
            }

            return Task.FromResult(expired.Count);
        }
    }

    public Task<int> TrimAsync(JobStatus status, long keep, int max)
    {
        lock (_lock)
        {
            var all = _jobs.Where(j => j.Value.Entry.Status == status).ToList();
            var excess = (int)Math.Min(max, all.Count - keep);
            if (excess <= 0)
            {
                return Task.FromResult(0);
            }

            foreach (var (id, stored) in all.OrderBy(j => j.Value.Entry.CreatedMs).ThenBy(j => j.Key, StringComparer.Ordinal).Take(excess))
            {
                Remove(id, stored);
            }

            return Task.FromResult(excess);
        }
    }

    private void Remove(string id, Stored stored)
    {
        _jobs.Remove(id);
        Count(stored.Entry, -1);
    }

    private void Count(JobIndexEntry entry, int delta)
    {
        _counts[(entry.Status, null)] = _counts.GetValueOrDefault((entry.Status, null)) + delta;
        _counts[(entry.Status, entry.Type)] = _counts.GetValueOrDefault((entry.Status, entry.Type)) + delta;
    }

    private static bool Matches(JobFilter filter, JobIndexEntry e) =>
        (filter.Statuses.Count == 0 || filter.Statuses.Contains(e.Status))
        && (filter.Type is null || filter.Type == e.Type)
        && (filter.CreatedAfter is not { } from || e.CreatedMs > from.ToUnixTimeMilliseconds())
        && (filter.CreatedBefore is not { } until || e.CreatedMs < until.ToUnixTimeMilliseconds())
        && (filter.IdPrefix is null || e.Id.StartsWith(filter.IdPrefix, StringComparison.Ordinal));

    private static string IdOf(GrainId grainId) => grainId.Key.ToString()!;

    private sealed record Stored(JobState State, string ETag, JobIndexEntry Entry, JobSummary Summary);
}
