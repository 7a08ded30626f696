namespace OrleansTasks.Jobs;

/// <summary>
/// Runs one job type. A handler is created per attempt from the silo's services, runs on the thread pool (never
/// on a grain's turn) and must honour its cancellation token: it fires at the job's timeout and when
/// the silo shuts down.
/// </summary>
/// <typeparam name="TPayload">The payload record, marked with <see cref="JobTypeAttribute"/>.</typeparam>
/// <typeparam name="TResult">What the job returns; stored as JSON in the job's snapshot.</typeparam>
public interface IJobHandler<in TPayload, TResult>
{
    /// <summary>Does the work. Throw to fail the attempt; throw <see cref="PermanentJobFailureException"/> to fail the job for good.</summary>
    Task<TResult> HandleAsync(TPayload payload, JobContext context, CancellationToken cancellationToken);
}

/// <summary>What a handler knows about the attempt it runs.</summary>
/// <param name="JobId">The job id: use it as an idempotency key toward other systems.</param>
/// <param name="Type">The job type name.</param>
/// <param name="Attempt">1 for the first attempt, 2 for the first retry, ...</param>
/// <param name="MaxRetries">The job's retry budget.</param>
public sealed record JobContext(string JobId, string Type, int Attempt, int MaxRetries)
{
    /// <summary>When this attempt was planned to start (enqueue, <c>runAt</c> or the retry time): now minus this is the pickup lag.</summary>
    public DateTimeOffset? PlannedStart { get; init; }
}

/// <summary>Thrown by a handler when retrying cannot help (bad data, a permanent refusal): the job fails at once.</summary>
public sealed class PermanentJobFailureException : Exception
{
    public PermanentJobFailureException()
    {
    }

    public PermanentJobFailureException(string message) : base(message)
    {
    }

    public PermanentJobFailureException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
