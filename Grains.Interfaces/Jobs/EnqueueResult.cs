namespace OrleansTasks.Jobs;

/// <summary>What an enqueue asks for: the job type, its JSON payload and optional overrides. The id is the grain key.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.EnqueueRequest")]
public sealed record EnqueueRequest(
    [property: Id(0)] string Type,
    [property: Id(1)] string PayloadJson,
    [property: Id(2)] JobOptions Options)
{
    /// <summary>
    /// The W3C <c>traceparent</c> of the span that enqueued the job (set by <see cref="JobClient"/> from the current
    /// activity when it is sampled): the job's attempts are traced as its children, on whichever silo they run.
    /// </summary>
    [Id(3)] public string? TraceParent { get; init; }
}

/// <summary>How an enqueue ended.</summary>
[GenerateSerializer, Alias("OrleansTasks.EnqueueOutcome")]
public enum EnqueueOutcome
{
    /// <summary>A new job was persisted (with its wake-up when it waits for a time).</summary>
    Created = 0,

    /// <summary>The id already names a job with the same type and payload: that job is returned, nothing new runs.</summary>
    Existing = 1,

    /// <summary>The id already names a job with a different type or payload. Nothing changed.</summary>
    Conflict = 2,

    /// <summary>The request was rejected (unknown type, bad payload, bad options). Nothing was persisted.</summary>
    Invalid = 3,

    /// <summary>
    /// A live silo does not know a feature the request uses yet (a rolling deploy in progress); <see cref="EnqueueResult.Detail"/>
    /// names the silos. Nothing was persisted; retry later.
    /// </summary>
    Unavailable = 4,
}

/// <summary>The answer to an enqueue.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.EnqueueResult")]
public sealed record EnqueueResult
{
    [Id(0)] public required EnqueueOutcome Outcome { get; init; }

    /// <summary>The job for <see cref="EnqueueOutcome.Created"/>, <see cref="EnqueueOutcome.Existing"/> and <see cref="EnqueueOutcome.Conflict"/>.</summary>
    [Id(1)] public JobSnapshot? Snapshot { get; init; }

    /// <summary>A sentence for humans when the outcome is <see cref="EnqueueOutcome.Conflict"/> or <see cref="EnqueueOutcome.Invalid"/>.</summary>
    [Id(2)] public string? Detail { get; init; }

    /// <summary>Field errors keyed by camelCase field name (<c>type</c>, <c>payload.email</c>, <c>maxRetries</c>, ...).</summary>
    [Id(3)] public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    /// <summary>True when a job exists for the id after the call (created now or before).</summary>
    public bool Accepted => Outcome is EnqueueOutcome.Created or EnqueueOutcome.Existing;

    public static EnqueueResult Invalid(string detail, IReadOnlyDictionary<string, string[]> errors) =>
        new() { Outcome = EnqueueOutcome.Invalid, Detail = detail, Errors = errors };
}
