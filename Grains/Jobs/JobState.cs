namespace OrleansTasks.Jobs;

/// <summary>
/// A job as stored in Redis, as System.Text.Json writes it (<c>UseSystemTextJsonGrainStorageSerializer</c>): members
/// are matched by property name, so renaming a property orphans what stored jobs hold in it. Add properties; never
/// rename or repurpose one. Immutable: <see cref="JobStateMachine"/> returns a new state for every transition, so the
/// state a failed write leaves behind is never a half-changed one.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobState")]
public sealed record JobState
{
    [Id(0)] public string Type { get; init; } = string.Empty;
    [Id(1)] public string PayloadJson { get; init; } = string.Empty;
    [Id(2)] public JobPolicy Policy { get; init; } = JobPolicy.Default;
    [Id(3)] public JobStatus Status { get; init; }

    /// <summary>Attempts that count toward <see cref="JobPolicy.MaxRetries"/> (hand-offs excluded).</summary>
    [Id(4)] public int Attempts { get; init; }
    [Id(5)] public DateTimeOffset CreatedAt { get; init; }
    [Id(6)] public DateTimeOffset? ScheduledFor { get; init; }
    [Id(7)] public DateTimeOffset? StartedAt { get; init; }
    [Id(8)] public DateTimeOffset? FinishedAt { get; init; }
    [Id(9)] public DateTimeOffset? NextAttemptAt { get; init; }
    [Id(10)] public JobError? LastError { get; init; }
    [Id(11)] public string? ResultJson { get; init; }
    [Id(12)] public IReadOnlyList<JobAttempt> History { get; init; } = [];

    /// <summary>When a cancel was asked for while the job ran; the job becomes cancelled when that attempt ends.</summary>
    [Id(13)] public DateTimeOffset? CancelRequestedAt { get; init; }

    /// <summary>1 for the job as enqueued, 2 after the first requeue, ...; <see cref="Attempts"/> counts this round only.</summary>
    [Id(14)] public int Round { get; init; } = 1;

    /// <summary>The W3C <c>traceparent</c> of the enqueue when it was traced: each attempt's span is its child and links to it.</summary>
    /// <remarks>Left out of the stored JSON when null, so an untraced job's state is as small as before.</remarks>
    [Id(15)]
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceParent { get; init; }

    /// <summary>Where the outcome is POSTed when a round ends (Grains/Webhooks); null for none.</summary>
    [Id(17)] public string? CallbackUrl { get; init; }

    /// <summary>The handler's last reported progress in this round: kept across retries (the next attempt resumes from it), cleared by a requeue.</summary>
    [Id(16)] public JobProgress? Progress { get; init; }

    /// <summary>Goes up by one with every stored write (<see cref="JobGrain"/>): the id of the job's live events.</summary>
    [Id(18)] public long Version { get; init; }

    /// <summary>
    /// The round's first attempt must start by then (the job options <c>startBy</c>, or <c>createdAt + maxAge</c>), or
    /// the job ends cancelled as <c>Expired</c> without running; null for no limit. Left out of the stored JSON when null.
    /// </summary>
    [Id(19)]
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? StartBy { get; init; }

    /// <summary>The job option <c>maxAge</c>, kept so that a requeue starts it afresh; null for none.</summary>
    [Id(20)]
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public TimeSpan? MaxAge { get; init; }
}
