namespace OrleansTasks.Jobs.Store;

/// <summary>
/// The job grain's storage seen from the side: listings, counts and removals over the indexes the storage keeps in
/// the same atomic step as each job's state (see docs/design.md, "Job storage and indexes").
/// </summary>
public interface IJobStore
{
    /// <summary>Up to <paramref name="limit"/> matching jobs, newest first, strictly after <paramref name="after"/>.</summary>
    Task<JobPage> ListAsync(JobFilter filter, int limit, JobCursor? after);

    /// <summary>Jobs per status (of one type when <paramref name="type"/> is set), from counters, without a scan.</summary>
    Task<JobCounts> CountsAsync(string? type);

    /// <summary>How many jobs match; a walk of the index only when an id prefix is part of the filter.</summary>
    Task<long> CountMatchingAsync(JobFilter filter);

    /// <summary>Removes up to <paramref name="max"/> finished jobs whose retention ended at or before <paramref name="now"/>.</summary>
    Task<int> SweepExpiredAsync(DateTimeOffset now, int max);

    /// <summary>Removes up to <paramref name="max"/> of the oldest <paramref name="status"/> jobs beyond the newest <paramref name="keep"/>.</summary>
    Task<int> TrimAsync(JobStatus status, long keep, int max);
}

/// <summary>What the indexes hold of one job, computed from its state.</summary>
internal sealed record JobIndexEntry(string Id, JobStatus Status, string Type, long CreatedMs, long? ExpiresMs)
{
    public string StatusName => Status.ToWireName();

    public static JobIndexEntry Of(string id, JobState state, DateTimeOffset? expiresAt) =>
        new(id, state.Status, state.Type, state.CreatedAt.ToUnixTimeMilliseconds(), expiresAt?.ToUnixTimeMilliseconds());

    /// <summary>A listing's line for a stored job.</summary>
    public static JobSummary Summary(string id, JobState state, DateTimeOffset? expiresAt) => new()
    {
        Id = id,
        Type = state.Type,
        Status = state.Status,
        Attempts = state.Attempts,
        CreatedAt = state.CreatedAt,
        StartedAt = state.StartedAt,
        FinishedAt = state.FinishedAt,
        NextAttemptAt = state.NextAttemptAt,
        LastError = state.LastError,
        Round = state.Round,
        ExpiresAt = expiresAt,
    };
}
