namespace OrleansTasks.Jobs;

/// <summary>
/// Per-enqueue overrides of a job type's defaults, plus when to start. Every member is optional:
/// <c>null</c> means "use the job type's default".
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobOptions")]
public sealed record JobOptions
{
    /// <summary>How many times a failed job is retried (so at most <c>MaxRetries + 1</c> attempts).</summary>
    [Id(0)] public int? MaxRetries { get; init; }

    /// <summary>Backoff before the first retry; it doubles for each later retry.</summary>
    [Id(1)] public TimeSpan? MinBackoff { get; init; }

    /// <summary>Upper bound of the doubling backoff.</summary>
    [Id(2)] public TimeSpan? MaxBackoff { get; init; }

    /// <summary>How long one attempt may run before its cancellation token fires and it fails.</summary>
    [Id(3)] public TimeSpan? Timeout { get; init; }

    /// <summary>Start no earlier than this long after the enqueue. Exclusive with <see cref="RunAt"/>.</summary>
    [Id(4)] public TimeSpan? Delay { get; init; }

    /// <summary>Start no earlier than this instant. Exclusive with <see cref="Delay"/>.</summary>
    [Id(5)] public DateTimeOffset? RunAt { get; init; }

    /// <summary>
    /// Where the engine POSTs the job's outcome when it finishes (succeeded, failed or cancelled), signed with
    /// <c>Webhooks:Secret</c>; overrides the job type's default. An absolute http or https URL.
    /// </summary>
    [Id(6)] public string? CallbackUrl { get; init; }

    /// <summary>
    /// The first attempt must start by this instant, or the job ends cancelled (<c>lastError.type</c> <c>Expired</c>)
    /// without running: stale work behind a backlog or an outage is not run. Exclusive with <see cref="MaxAge"/>;
    /// applies to the first round only (a requeue clears it).
    /// </summary>
    [Id(7)] public DateTimeOffset? StartBy { get; init; }

    /// <summary>
    /// Like <see cref="StartBy"/>, as a duration from the job's creation; a requeue starts it afresh. Exclusive with
    /// <see cref="StartBy"/>.
    /// </summary>
    [Id(8)] public TimeSpan? MaxAge { get; init; }

    /// <summary>The features a silo must know to honour these options (<see cref="JobFeatures"/>); empty for the ones every release knows.</summary>
    public IReadOnlyList<string> RequiredFeatures() =>
        StartBy is null && MaxAge is null ? [] : [JobFeatures.StartBy];

    /// <summary>No overrides at all.</summary>
    public static JobOptions None { get; } = new();

    /// <summary>How far in the past <see cref="RunAt"/> may lie (clock skew between client and silo) before it is rejected.</summary>
    public static TimeSpan RunAtPastTolerance { get; } = TimeSpan.FromSeconds(30);

    /// <summary>Field errors in <see cref="Delay"/> and <see cref="RunAt"/>, judged at <paramref name="now"/>.</summary>
    public IReadOnlyDictionary<string, string[]> ValidateSchedule(DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>();
        if (Delay is not null && RunAt is not null)
        {
            errors["delay"] = ["give either delay or runAt, not both."];
        }
        else if (Delay is { } delay && (delay < TimeSpan.Zero || delay > JobPolicy.DurationLimit))
        {
            errors["delay"] = [$"must be between 0 and {JobPolicy.DurationLimit.TotalDays} days."];
        }
        else if (RunAt is { } runAt && runAt < now - RunAtPastTolerance)
        {
            errors["runAt"] = [$"lies in the past (more than {RunAtPastTolerance.TotalSeconds} s before now)."];
        }
        else if (RunAt is { } farRunAt && farRunAt > now + JobPolicy.DurationLimit)
        {
            errors["runAt"] = [$"lies more than {JobPolicy.DurationLimit.TotalDays} days ahead."];
        }

        // An invalid delay or runAt may not even make an instant; the limits below are then judged from now.
        var firstRun = errors.Count == 0 ? FirstRunAt(now) : now;
        if (StartBy is not null && MaxAge is not null)
        {
            errors["startBy"] = ["give either startBy or maxAge, not both."];
        }
        else if (StartBy is { } startBy && startBy <= now)
        {
            errors["startBy"] = ["must lie after now."];
        }
        else if (StartBy is { } far && far > now + JobPolicy.DurationLimit)
        {
            errors["startBy"] = [$"lies more than {JobPolicy.DurationLimit.TotalDays} days ahead."];
        }
        else if (StartBy is { } late && late < firstRun)
        {
            errors["startBy"] = ["must not lie before the first run time (runAt or delay)."];
        }
        else if (MaxAge is { } maxAge && (maxAge <= TimeSpan.Zero || maxAge > JobPolicy.DurationLimit))
        {
            errors["maxAge"] = [$"must be positive and at most {JobPolicy.DurationLimit.TotalDays} days."];
        }
        else if (MaxAge is { } shortAge && now + shortAge < firstRun)
        {
            errors["maxAge"] = ["must not be shorter than the wait before the first run (delay or runAt)."];
        }

        return errors;
    }

    /// <summary>When the first attempt must have started by, given the enqueue instant; null for no limit.</summary>
    public DateTimeOffset? StartDeadline(DateTimeOffset now) => StartBy ?? (MaxAge is { } age ? now + age : null);

    /// <summary>When the first attempt may start, given the enqueue instant.</summary>
    public DateTimeOffset FirstRunAt(DateTimeOffset now) => RunAt ?? now + (Delay ?? TimeSpan.Zero);
}

/// <summary>
/// Names of what a silo release knows beyond the first release (job options, states), published in each silo's
/// metadata: an enqueue that needs one is accepted only when every live silo advertises it, so a silo of an older
/// release never holds a job it would misread.
/// </summary>
public static class JobFeatures
{
    /// <summary>The job options <c>startBy</c> and <c>maxAge</c>.</summary>
    public const string StartBy = "job-option:startBy";

    /// <summary>Every feature this release knows.</summary>
    public static IReadOnlyList<string> All { get; } = [StartBy];
}

/// <summary>The retry and timeout policy a job actually runs with, after defaults and overrides are merged.</summary>
/// <param name="MaxRetries">Retries after the first attempt. Default 20.</param>
/// <param name="MinBackoff">Backoff before retry 1. Default 15 seconds.</param>
/// <param name="MaxBackoff">Cap of the exponential backoff. Default 7 days.</param>
/// <param name="Timeout">Per-attempt time limit. Default 10 minutes.</param>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobPolicy")]
public sealed record JobPolicy(
    [property: Id(0)] int MaxRetries,
    [property: Id(1)] TimeSpan MinBackoff,
    [property: Id(2)] TimeSpan MaxBackoff,
    [property: Id(3)] TimeSpan Timeout)
{
    /// <summary>Dramatiq's defaults: 20 retries, 15 s minimum backoff, 7 days maximum backoff, 10 minute timeout.</summary>
    public static JobPolicy Default { get; } = new(20, TimeSpan.FromSeconds(15), TimeSpan.FromDays(7), TimeSpan.FromMinutes(10));

    /// <summary>Largest accepted <see cref="MaxRetries"/>.</summary>
    public const int MaxRetriesLimit = 1000;

    /// <summary>Largest accepted backoff, delay or timeout: a year. Anything longer is almost surely a unit mistake.</summary>
    public static TimeSpan DurationLimit { get; } = TimeSpan.FromDays(365);

    /// <summary>Shortest accepted backoff or timeout.</summary>
    public static TimeSpan MinimumDuration { get; } = TimeSpan.FromMilliseconds(1);

    /// <summary>These defaults with the non-null members of <paramref name="options"/> laid over them.</summary>
    public JobPolicy With(JobOptions options) => new(
        options.MaxRetries ?? MaxRetries,
        options.MinBackoff ?? MinBackoff,
        options.MaxBackoff ?? MaxBackoff,
        options.Timeout ?? Timeout);

    /// <summary>Field errors (camelCase field names), empty when the policy is usable.</summary>
    public IReadOnlyDictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (MaxRetries is < 0 or > MaxRetriesLimit)
        {
            errors["maxRetries"] = [$"must be between 0 and {MaxRetriesLimit}."];
        }

        CheckDuration(errors, "minBackoff", MinBackoff);
        CheckDuration(errors, "maxBackoff", MaxBackoff);
        CheckDuration(errors, "timeout", Timeout);
        if (!errors.ContainsKey("minBackoff") && !errors.ContainsKey("maxBackoff") && MinBackoff > MaxBackoff)
        {
            errors["maxBackoff"] = ["must not be shorter than minBackoff."];
        }

        return errors;
    }

    private static void CheckDuration(Dictionary<string, string[]> errors, string field, TimeSpan value)
    {
        if (value < MinimumDuration || value > DurationLimit)
        {
            errors[field] = [$"must be between {MinimumDuration.TotalMilliseconds} ms and {DurationLimit.TotalDays} days."];
        }
    }
}
