namespace OrleansTasks.Jobs;

/// <summary>
/// A job as stored in Redis. Renaming this type or reusing an [Id] breaks stored jobs: add members with new ids only.
/// </summary>
[GenerateSerializer, Alias("OrleansTasks.JobState")]
public sealed class JobState
{
    [Id(0)] public string Type { get; set; } = string.Empty;
    [Id(1)] public string PayloadJson { get; set; } = string.Empty;
    [Id(2)] public JobPolicy Policy { get; set; } = JobPolicy.Default;
    [Id(3)] public JobStatus Status { get; set; }

    /// <summary>Attempts that count toward <see cref="JobPolicy.MaxRetries"/> (hand-offs excluded).</summary>
    [Id(4)] public int Attempts { get; set; }
    [Id(5)] public DateTimeOffset CreatedAt { get; set; }
    [Id(6)] public DateTimeOffset? ScheduledFor { get; set; }
    [Id(7)] public DateTimeOffset? StartedAt { get; set; }
    [Id(8)] public DateTimeOffset? FinishedAt { get; set; }
    [Id(9)] public DateTimeOffset? NextAttemptAt { get; set; }
    [Id(10)] public JobError? LastError { get; set; }
    [Id(11)] public string? ResultJson { get; set; }
    [Id(12)] public List<JobAttempt> History { get; set; } = [];
}
