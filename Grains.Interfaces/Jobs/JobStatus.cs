namespace OrleansTasks.Jobs;

/// <summary>Where a job is in its life. Stored as part of the job state: never renumber.</summary>
[GenerateSerializer, Alias("OrleansTasks.JobStatus")]
public enum JobStatus
{
    /// <summary>Waiting for its <c>runAt</c> time.</summary>
    Scheduled = 0,

    /// <summary>Ready to run, waiting for a free worker slot on its silo.</summary>
    Queued = 1,

    /// <summary>A handler is executing an attempt right now.</summary>
    Running = 2,

    /// <summary>The last attempt failed; waiting for the backoff before the next one.</summary>
    Retrying = 3,

    /// <summary>Terminal: an attempt returned a result.</summary>
    Succeeded = 4,

    /// <summary>Terminal: retries exhausted, or the failure was not retryable.</summary>
    Failed = 5,

    /// <summary>Terminal: cancelled by a client (a final state of its own, not a delete).</summary>
    Cancelled = 6,
}

/// <summary>Helpers over <see cref="JobStatus"/>.</summary>
public static class JobStatusExtensions
{
    /// <summary>True for the states a job never leaves.</summary>
    public static bool IsTerminal(this JobStatus status) =>
        status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>The lowercase wire name used by the HTTP API and the docs (<c>queued</c>, <c>running</c>, ...).</summary>
    public static string ToWireName(this JobStatus status) => status switch
    {
        JobStatus.Scheduled => "scheduled",
        JobStatus.Queued => "queued",
        JobStatus.Running => "running",
        JobStatus.Retrying => "retrying",
        JobStatus.Succeeded => "succeeded",
        JobStatus.Failed => "failed",
        JobStatus.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}
