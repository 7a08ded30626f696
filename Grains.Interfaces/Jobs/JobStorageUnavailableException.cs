namespace OrleansTasks.Jobs;

/// <summary>
/// The job's storage (Redis) failed or did not answer in time: a temporary outage. A write whose reply was lost may
/// still have been stored, so retry with the same job id (it returns the stored job, never makes a second one).
/// Silos throw this instead of their storage provider's own exception types, which clients cannot load.
/// </summary>
[GenerateSerializer, Alias("OrleansTasks.JobStorageUnavailableException")]
public sealed class JobStorageUnavailableException : Exception
{
    public JobStorageUnavailableException()
        : this("The job storage is unavailable. Retry shortly with the same job id.")
    {
    }

    public JobStorageUnavailableException(string message)
        : base(message)
    {
    }

    public JobStorageUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
