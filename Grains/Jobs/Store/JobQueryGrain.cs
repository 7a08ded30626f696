using Orleans.Concurrency;

namespace OrleansTasks.Jobs.Store;

/// <summary>Answers listings and counts on the silo the client reached, from the store's indexes.</summary>
[StatelessWorker, Reentrant, GrainType("jobquery")]
public sealed class JobQueryGrain(IJobStore store) : Grain, IJobQueryGrain
{
    public Task<JobPage> ListAsync(JobFilter filter, int limit, string? cursor)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (limit is < 1 or > JobPage.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be 1 to {JobPage.MaxLimit}.");
        }

        JobCursor? after = null;
        if (cursor is not null)
        {
            after = JobCursor.TryDecode(cursor, out var c) ? c : throw new ArgumentException("The cursor is not one a listing returned.", nameof(cursor));
        }

        return store.ListAsync(filter, limit, after);
    }

    public Task<JobCounts> CountsAsync(string? type) => store.CountsAsync(type);

    public Task<long> CountMatchingAsync(JobFilter filter) => store.CountMatchingAsync(filter);
}
