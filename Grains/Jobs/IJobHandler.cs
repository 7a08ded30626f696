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

    /// <summary>
    /// The progress an earlier attempt of this round last reported (null on a first attempt or after a requeue): a
    /// retried handler can resume from it, as from a checkpoint.
    /// </summary>
    public JobProgress? LastProgress { get; init; }

    /// <summary>Where <see cref="ReportProgressAsync"/> goes; null outside a running attempt (a handler's unit test).</summary>
    internal Progress.ProgressReporter? ProgressSink { get; init; }

    /// <summary>
    /// Reports how far the attempt got. Cheap to call often: the job stores at most one report a second, and always
    /// the last one (at the latest a second later, or with the attempt's outcome). Returns at once; the report shows
    /// in the job as <c>progress</c>, in its live events, and in the next attempt's <see cref="LastProgress"/>.
    /// </summary>
    /// <param name="percent">0 to 100.</param>
    /// <param name="detail">Anything JSON-serializable (a step name, a cursor to resume from), at most <see cref="Progress.ProgressReporter.MaxDetailBytes"/> bytes as JSON.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="percent"/> is not within 0 to 100.</exception>
    public Task ReportProgressAsync(double percent, object? detail = null)
    {
        if (percent is not (>= 0 and <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "Progress is a percentage from 0 to 100.");
        }

        var json = detail is null ? null : System.Text.Json.JsonSerializer.Serialize(detail, detail.GetType(), JobJson.Options);
        if (json is not null && System.Text.Encoding.UTF8.GetByteCount(json) > Progress.ProgressReporter.MaxDetailBytes)
        {
            throw new ArgumentException($"The progress detail is larger than {Progress.ProgressReporter.MaxDetailBytes} bytes as JSON.", nameof(detail));
        }

        ProgressSink?.Report(percent, json);
        return Task.CompletedTask;
    }
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
