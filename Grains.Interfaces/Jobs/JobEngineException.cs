namespace OrleansTasks.Jobs;

/// <summary>
/// An unexpected error inside a silo whose own exception type clients cannot load. The original, with its details,
/// is in the silo's log; this one carries only its type name, so clients see a fault instead of a failure to read
/// the reply.
/// </summary>
[GenerateSerializer, Alias("OrleansTasks.JobEngineException")]
public sealed class JobEngineException : Exception
{
    public JobEngineException()
        : this("An unexpected error occurred in the job cluster; it has been logged there.")
    {
    }

    public JobEngineException(string message)
        : base(message)
    {
    }

    public JobEngineException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
