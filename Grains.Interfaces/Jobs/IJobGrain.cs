using Orleans.Concurrency;

namespace OrleansTasks.Jobs;

/// <summary>One job: its state, its attempts, its wake-up while it waits for a time. Keyed by the job id.</summary>
[Alias("OrleansTasks.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the job, or returns it when this id already names the same job. Returns only once the job's
    /// state (and its wake-up, for a job that waits for a time) is stored, so an acknowledged job survives any crash.
    /// </summary>
    [Alias("Enqueue")]
    Task<EnqueueResult> EnqueueAsync(EnqueueRequest request);

    /// <summary>The job's state now, or null when no job has this id. Never waits behind a running handler.</summary>
    [Alias("GetSnapshot"), AlwaysInterleave, ReadOnly]
    Task<JobSnapshot?> GetSnapshotAsync();

    /// <summary>
    /// Cancels the job: a waiting job is <c>cancelled</c> at once (<see cref="JobCommandOutcome.Done"/>); a running
    /// one is marked durably and its handler's token fires (<see cref="JobCommandOutcome.Accepted"/>): it becomes
    /// <c>cancelled</c> when the handler returns or after <c>Jobs:CancelGrace</c>, its result discarded. Cancelling a
    /// cancelled job is <see cref="JobCommandOutcome.Done"/>; a succeeded or failed one is a conflict.
    /// </summary>
    [Alias("Cancel")]
    Task<JobCommandResult> CancelAsync();

    /// <summary>Runs a finished job again as a new round with a fresh attempt budget; its history is kept.</summary>
    [Alias("Requeue")]
    Task<JobCommandResult> RequeueAsync();

    /// <summary>Deletes a finished job: its state is removed and its id may be used again.</summary>
    [Alias("Delete")]
    Task<JobCommandResult> DeleteAsync();

    /// <summary>
    /// The recovery sweeper's call for a job stored as queued or running: activating it (on a live silo) resumes a
    /// job whose silo died; a job already moving here is left alone.
    /// </summary>
    [Alias("Recover")]
    Task RecoverAsync();
}

/// <summary>How a cancel, requeue or delete ended.</summary>
[GenerateSerializer, Alias("OrleansTasks.JobCommandOutcome")]
public enum JobCommandOutcome
{
    /// <summary>Done now (a running job's cancel: marked, and done when its attempt ends, see <see cref="Accepted"/>).</summary>
    Done = 0,

    /// <summary>Accepted and under way: a running job's cancel.</summary>
    Accepted = 1,

    /// <summary>No job has this id.</summary>
    NotFound = 2,

    /// <summary>The job's state does not allow it (see the detail); nothing changed.</summary>
    Conflict = 3,
}

/// <summary>The answer to a cancel, requeue or delete.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobCommandResult")]
public sealed record JobCommandResult
{
    [Id(0)] public required JobCommandOutcome Outcome { get; init; }

    /// <summary>The job after the command (none after a delete or for an unknown id).</summary>
    [Id(1)] public JobSnapshot? Snapshot { get; init; }

    /// <summary>A sentence for humans when the outcome is a conflict.</summary>
    [Id(2)] public string? Detail { get; init; }
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
