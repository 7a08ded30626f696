namespace OrleansTasks.Jobs;

/// <summary>
/// The job's storage (Redis) failed or did not answer in time, so nothing was changed: a temporary outage, retry
/// shortly. Silos throw this instead of their storage provider's own exception types, which clients cannot load.
/// </summary>
[GenerateSerializer, Alias("OrleansTasks.JobStorageUnavailableException")]
public sealed class JobStorageUnavailableException : Exception
{
    public JobStorageUnavailableException()
        : this("The job storage is unavailable; nothing was changed. Retry shortly.")
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
