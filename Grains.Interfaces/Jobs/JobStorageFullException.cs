namespace OrleansTasks.Jobs;

/// <summary>
/// New jobs are refused because Redis memory is above <c>Jobs:RedisMemoryHighWatermark</c>: the remaining headroom is
/// kept for jobs already accepted, so they can still record their outcomes. Nothing was stored; retry later.
/// </summary>
[GenerateSerializer, Alias("OrleansTasks.JobStorageFullException")]
public sealed class JobStorageFullException : Exception
{
    public JobStorageFullException()
        : this("Redis memory is above its high watermark; new jobs are refused until it is below.")
    {
    }

    public JobStorageFullException(string message)
        : base(message)
    {
    }

    public JobStorageFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
