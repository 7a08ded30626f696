namespace OrleansTasks.Jobs;

/// <summary>What went wrong in an attempt, as clients may see it: no stack traces.</summary>
/// <param name="Type">The exception type name, e.g. <c>HttpRequestException</c> or <c>TimeoutException</c>.</param>
/// <param name="Message">The exception message.</param>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobError")]
public sealed record JobError([property: Id(0)] string Type, [property: Id(1)] string Message);

/// <summary>How one attempt ended.</summary>
[GenerateSerializer, Alias("OrleansTasks.AttemptOutcome")]
public enum AttemptOutcome
{
    /// <summary>Still executing.</summary>
    Running = 0,

    /// <summary>The handler returned a result.</summary>
    Succeeded = 1,

    /// <summary>The handler threw; the retry policy decides what follows.</summary>
    Failed = 2,

    /// <summary>The attempt outlived its timeout.</summary>
    TimedOut = 3,

    /// <summary>The silo running it died before it reported back. Counts toward <c>maxRetries</c>.</summary>
    Interrupted = 4,

    /// <summary>Its silo shut down gracefully and handed the job on. Does not count toward <c>maxRetries</c>.</summary>
    HandedOff = 5,

    /// <summary>The job was cancelled while this attempt ran; whatever the handler returned was discarded.</summary>
    Cancelled = 6,
}

/// <summary>One attempt in a job's history.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobAttempt")]
public sealed record JobAttempt(
    [property: Id(0)] int Number,
    [property: Id(1)] DateTimeOffset StartedAt,
    [property: Id(2)] DateTimeOffset? FinishedAt,
    [property: Id(3)] AttemptOutcome Outcome,
    [property: Id(4)] JobError? Error,
    [property: Id(5)] string Silo)
{
    /// <summary>The round this attempt belongs to: 1 until the job is first requeued.</summary>
    [Id(6)] public int Round { get; init; } = 1;
}

/// <summary>Everything a client may know about a job, at one instant.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobSnapshot")]
public sealed record JobSnapshot
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Type { get; init; }
    [Id(2)] public required JobStatus Status { get; init; }

    /// <summary>The payload as the JSON the handler receives.</summary>
    [Id(3)] public required string PayloadJson { get; init; }

    /// <summary>Attempts that count toward <see cref="JobPolicy.MaxRetries"/> (hand-offs excluded).</summary>
    [Id(4)] public required int Attempts { get; init; }
    [Id(5)] public required JobPolicy Policy { get; init; }
    [Id(6)] public required DateTimeOffset CreatedAt { get; init; }
    [Id(7)] public DateTimeOffset? ScheduledFor { get; init; }
    [Id(8)] public DateTimeOffset? StartedAt { get; init; }
    [Id(9)] public DateTimeOffset? FinishedAt { get; init; }
    [Id(10)] public DateTimeOffset? NextAttemptAt { get; init; }
    [Id(11)] public JobError? LastError { get; init; }

    /// <summary>The handler's return value as JSON, once succeeded.</summary>
    [Id(12)] public string? ResultJson { get; init; }
    [Id(13)] public required IReadOnlyList<JobAttempt> History { get; init; }

    /// <summary>1 as enqueued, +1 per requeue; <see cref="Attempts"/> counts the current round only.</summary>
    [Id(14)] public int Round { get; init; } = 1;

    /// <summary>When a cancel was asked for while the job ran (it becomes cancelled when that attempt ends).</summary>
    [Id(15)] public DateTimeOffset? CancelRequestedAt { get; init; }

    /// <summary>When retention removes the finished job (its id is free again then); null while it runs or when kept for ever.</summary>
    [Id(16)] public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Where the outcome is POSTed when the job finishes (its own or its type's default); null for none.</summary>
    [Id(18)] public string? CallbackUrl { get; init; }

    /// <summary>The handler's last reported progress in this round (kept across retries, cleared by a requeue).</summary>
    [Id(17)] public JobProgress? Progress { get; init; }

    /// <summary>Goes up by one with every stored transition of the job: the id of its live events.</summary>
    [Id(19)] public long Version { get; init; }

    /// <summary>
    /// Why the job is not running now, as the job's silo sees it when it is read; null for a running job without a
    /// pending cancel and for a finished job. Listings and live events do not carry it.
    /// </summary>
    [Id(20)] public JobWaitingFor? WaitingFor { get; init; }

    /// <summary>The round's first attempt must start by then (its <c>startBy</c>, or <c>createdAt + maxAge</c>); null for no limit.</summary>
    [Id(21)] public DateTimeOffset? StartBy { get; init; }

    /// <summary>The job option <c>maxAge</c>; null for none.</summary>
    [Id(22)] public TimeSpan? MaxAge { get; init; }
}

/// <summary>
/// Why a job waits. <see cref="Reason"/> is a camelCase word from an open set (<see cref="JobWaitingReasons"/>; later
/// releases add more), <see cref="Detail"/> one English sentence, <see cref="Until"/> when the wait ends if known.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobWaitingFor")]
public sealed record JobWaitingFor([property: Id(0)] string Reason, [property: Id(1)] string Detail, [property: Id(2)] DateTimeOffset? Until)
{
    /// <summary>For <see cref="JobWaitingReasons.WorkerSlot"/>: the silo whose slots the job waits for.</summary>
    [Id(3)] public string? Silo { get; init; }

    /// <summary>For <see cref="JobWaitingReasons.WorkerSlot"/>: that silo's slots in use.</summary>
    [Id(4)] public int? SlotsUsed { get; init; }

    /// <summary>For <see cref="JobWaitingReasons.WorkerSlot"/>: that silo's slots in all (<c>Jobs:MaxConcurrency</c>).</summary>
    [Id(5)] public int? SlotsTotal { get; init; }
}

/// <summary>The reasons a job waits today (<see cref="JobWaitingFor.Reason"/>); clients must accept others.</summary>
public static class JobWaitingReasons
{
    /// <summary>Scheduled: it waits for its run time.</summary>
    public const string RunAt = "runAt";

    /// <summary>Retrying: it waits for its next attempt after a failure.</summary>
    public const string RetryBackoff = "retryBackoff";

    /// <summary>Queued while its silo's worker slots are all used.</summary>
    public const string WorkerSlot = "workerSlot";

    /// <summary>Queued, and no live silo registers its type (a rolling deploy).</summary>
    public const string NoSiloForType = "noSiloForType";

    /// <summary>Queued behind a handler of an earlier attempt of this job that ignored its token and still runs.</summary>
    public const string PreviousHandlerRunning = "previousHandlerRunning";

    /// <summary>Running with a cancel requested: the handler has until the cancel grace ends to return.</summary>
    public const string CancelPending = "cancelPending";
}
