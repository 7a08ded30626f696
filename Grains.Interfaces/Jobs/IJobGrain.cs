using Orleans.Concurrency;

namespace OrleansTasks.Jobs;

/// <summary>One job: its state, its attempts, its durable wake-up. Keyed by the job id.</summary>
[Alias("OrleansTasks.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the job, or returns it when this id already names the same job. Returns only once the job's
    /// state and its durable wake-up are stored, so an acknowledged job survives any crash.
    /// </summary>
    [Alias("Enqueue")]
    Task<EnqueueResult> EnqueueAsync(EnqueueRequest request);

    /// <summary>The job's state now, or null when no job has this id. Never waits behind a running handler.</summary>
    [Alias("GetSnapshot"), AlwaysInterleave, ReadOnly]
    Task<JobSnapshot?> GetSnapshotAsync();
}

/// <summary>A registered job type as clients see it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobTypeInfo")]
public sealed record JobTypeInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] string PayloadType,
    [property: Id(2)] JobPolicy Defaults);

/// <summary>The job types the silos know. Answered locally by whichever silo receives the call.</summary>
[Alias("OrleansTasks.IJobTypesGrain")]
public interface IJobTypesGrain : IGrainWithIntegerKey
{
    /// <summary>Every registered job type, sorted by name.</summary>
    [Alias("GetJobTypes")]
    Task<IReadOnlyList<JobTypeInfo>> GetJobTypesAsync();
}
