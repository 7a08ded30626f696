using System.Buffers;
using System.Globalization;
using OrleansTasks.Jobs;

namespace OrleansTasks.Schedules;

/// <summary>What happens to an occurrence while the schedule's previous job has not finished. Stored: never renumber.</summary>
[GenerateSerializer, Alias("OrleansTasks.OverlapPolicy")]
public enum OverlapPolicy
{
    /// <summary>The occurrence is skipped and recorded as skipped (default).</summary>
    Skip = 0,

    /// <summary>The occurrence's job is enqueued anyway; jobs may run side by side.</summary>
    Allow = 1,

    /// <summary>The occurrence waits until the previous job finishes; at most one waits, later ones are skipped.</summary>
    BufferOne = 2,

    /// <summary>The previous job is cancelled and the occurrence's job enqueued.</summary>
    CancelOther = 3,
}

/// <summary>What happens to occurrences missed while no silo could fire them (downtime). Stored: never renumber.</summary>
[GenerateSerializer, Alias("OrleansTasks.MisfirePolicy")]
public enum MisfirePolicy
{
    /// <summary>One job, for the latest missed occurrence (default).</summary>
    RunOnce = 0,

    /// <summary>A job for every missed occurrence, oldest first.</summary>
    RunAll = 1,

    /// <summary>No job for missed occurrences.</summary>
    Skip = 2,
}

/// <summary>
/// A recurring schedule: the job to enqueue (type, payload, options), when (a cron expression or a fixed interval, in
/// a time zone, between optional bounds, with an optional per-occurrence jitter) and the overlap and misfire policies.
/// Stored as System.Text.Json: add properties, never rename one.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.ScheduleDefinition")]
public sealed record ScheduleDefinition
{
    [Id(0)] public string Type { get; init; } = string.Empty;
    [Id(1)] public string PayloadJson { get; init; } = "{}";

    /// <summary>5 fields (minute precision) or 6 (with seconds first); exclusive with <see cref="Every"/>.</summary>
    [Id(2)] public string? Cron { get; init; }

    /// <summary>A fixed interval (at least 1 s), aligned to <see cref="StartAt"/> or else to the Unix epoch.</summary>
    [Id(3)] public TimeSpan? Every { get; init; }

    /// <summary>IANA time zone id the cron expression is read in. Default UTC.</summary>
    [Id(4)] public string TimeZone { get; init; } = "UTC";
    [Id(5)] public DateTimeOffset? StartAt { get; init; }
    [Id(6)] public DateTimeOffset? EndAt { get; init; }

    /// <summary>Each occurrence's job starts up to this much later, by an amount fixed for that occurrence.</summary>
    [Id(7)] public TimeSpan? Jitter { get; init; }
    [Id(8)] public OverlapPolicy Overlap { get; init; } = OverlapPolicy.Skip;
    [Id(9)] public MisfirePolicy Misfire { get; init; } = MisfirePolicy.RunOnce;

    /// <summary>Occurrences missed by more than this are never caught up. Default 1 hour.</summary>
    [Id(10)] public TimeSpan CatchUpWindow { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Retries, backoffs and timeout of the jobs (delay and runAt are the schedule's business and ignored).</summary>
    [Id(11)] public JobOptions Options { get; init; } = JobOptions.None;
}

/// <summary>One occurrence the schedule handled: the job it made, or why it made none.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.ScheduleRun")]
public sealed record ScheduleRun
{
    /// <summary>The planned instant (for a manual trigger, the instant of the trigger).</summary>
    [Id(0)] public DateTimeOffset Occurrence { get; init; }
    [Id(1)] public string? JobId { get; init; }

    /// <summary>Why no job was made, when none was.</summary>
    [Id(2)] public string? Skipped { get; init; }

    /// <summary><c>scheduled</c>, <c>catchUp</c>, <c>buffered</c>, <c>manual</c> or <c>backfill</c>.</summary>
    [Id(3)] public string Kind { get; init; } = "scheduled";
    [Id(4)] public DateTimeOffset FiredAt { get; init; }

    /// <summary>The job's status when the schedule was read (null when skipped or the job is gone).</summary>
    [Id(5)] public JobStatus? Status { get; init; }
}

/// <summary>A schedule as a client sees it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.ScheduleSnapshot")]
public sealed record ScheduleSnapshot
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required ScheduleDefinition Definition { get; init; }
    [Id(2)] public bool Paused { get; init; }
    [Id(3)] public string? Note { get; init; }

    /// <summary>The next 5 planned instants (as planned; nothing fires while paused).</summary>
    [Id(4)] public IReadOnlyList<DateTimeOffset> NextRuns { get; init; } = [];

    /// <summary>The latest 20 occurrences handled, newest first.</summary>
    [Id(5)] public IReadOnlyList<ScheduleRun> RecentRuns { get; init; } = [];
    [Id(6)] public DateTimeOffset CreatedAt { get; init; }
    [Id(7)] public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The latest occurrence fired; the schedule never fires at or before it again (backfill aside).</summary>
    [Id(8)] public DateTimeOffset? LastOccurrence { get; init; }

    /// <summary>An occurrence waiting for the previous job to finish (overlap <c>bufferOne</c>).</summary>
    [Id(9)] public DateTimeOffset? Buffered { get; init; }
}

[GenerateSerializer, Alias("OrleansTasks.ScheduleOutcome")]
public enum ScheduleOutcome
{
    Created = 0,
    Replaced = 1,
    Unchanged = 2,
    Invalid = 3,
    NotFound = 4,
    Done = 5,
}

/// <summary>The answer to a schedule command: the schedule after it, or why not.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.ScheduleResult")]
public sealed record ScheduleResult
{
    [Id(0)] public required ScheduleOutcome Outcome { get; init; }
    [Id(1)] public ScheduleSnapshot? Snapshot { get; init; }

    /// <summary>Field errors keyed by camelCase field name, for <see cref="ScheduleOutcome.Invalid"/>.</summary>
    [Id(2)] public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    /// <summary>The jobs a trigger or backfill made (ids), in order.</summary>
    [Id(3)] public IReadOnlyList<string> JobIds { get; init; } = [];
}

/// <summary>One recurring schedule, keyed by its id.</summary>
[Alias("OrleansTasks.IScheduleGrain")]
public interface IScheduleGrain : IGrainWithStringKey
{
    /// <summary>Creates or replaces the schedule (a replace keeps <c>paused</c> and what has fired).</summary>
    [Alias("Upsert")]
    Task<ScheduleResult> UpsertAsync(ScheduleDefinition definition);

    /// <summary>
    /// The start-up upsert of a schedule declared in code: nothing when <paramref name="codeHash"/> is the one last
    /// applied (even if the schedule was deleted or changed through the API since); never touches <c>paused</c>.
    /// </summary>
    [Alias("UpsertFromCode")]
    Task<ScheduleResult> UpsertFromCodeAsync(ScheduleDefinition definition, string codeHash);

    [Alias("Get")]
    Task<ScheduleSnapshot?> GetAsync();

    [Alias("Pause")]
    Task<ScheduleResult> PauseAsync(string? note);

    [Alias("Resume")]
    Task<ScheduleResult> ResumeAsync();

    /// <summary>One extra job now, id <c>{scheduleId}:manual:{yyyyMMddTHHmmssfffZ}</c>.</summary>
    [Alias("Trigger")]
    Task<ScheduleResult> TriggerAsync();

    /// <summary>A job for each occurrence in [<paramref name="from"/>, <paramref name="to"/>] (at most 1,000).</summary>
    [Alias("Backfill")]
    Task<ScheduleResult> BackfillAsync(DateTimeOffset from, DateTimeOffset to);

    /// <summary>Removes the schedule (its jobs stay). False when there was none.</summary>
    [Alias("Delete")]
    Task<bool> DeleteAsync();
}

/// <summary>The ids of all schedules, for listing (one per cluster, key 0).</summary>
[Alias("OrleansTasks.IScheduleDirectoryGrain")]
public interface IScheduleDirectoryGrain : IGrainWithIntegerKey
{
    [Alias("Add")]
    Task AddAsync(string id);

    [Alias("Remove")]
    Task RemoveAsync(string id);

    /// <summary>Up to <paramref name="limit"/> ids after <paramref name="after"/> in ordinal order, and whether more follow.</summary>
    [Alias("List")]
    Task<(IReadOnlyList<string> Ids, bool More)> ListAsync(string? after, int limit);
}

/// <summary>Schedule ids: the grain key and the prefix of every occurrence's job id.</summary>
public static class ScheduleId
{
    public const int MaxLength = 100;

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    /// <summary>Null when usable, else why not. No <c>:</c>, so occurrence job ids never collide across schedules.</summary>
    public static string? Validate(string? id) =>
        string.IsNullOrEmpty(id) ? "must not be empty."
        : id.Length > MaxLength ? $"must be at most {MaxLength} characters."
        : id is "." or ".." ? "must not be '.' or '..'."
        : id.AsSpan().ContainsAnyExcept(Allowed) ? "may contain only letters, digits and . _ -"
        : null;

    /// <summary>The job id of the occurrence at <paramref name="occurrence"/>: <c>{scheduleId}:{yyyyMMddTHHmmssZ}</c>.</summary>
    public static string JobIdFor(string scheduleId, DateTimeOffset occurrence) =>
        $"{scheduleId}:{occurrence.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}";

    /// <summary>The job id of a manual trigger at <paramref name="at"/>: <c>{scheduleId}:manual:{yyyyMMddTHHmmssfffZ}</c>.</summary>
    public static string ManualJobIdFor(string scheduleId, DateTimeOffset at) =>
        $"{scheduleId}:manual:{at.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture)}";
}

/// <summary>The typed client for schedules (any Orleans client: the API, a silo, a test).</summary>
public sealed class ScheduleClient(IGrainFactory grains)
{
    public Task<ScheduleResult> UpsertAsync(string id, ScheduleDefinition definition) => Grain(id).UpsertAsync(definition);

    public Task<ScheduleSnapshot?> GetAsync(string id) =>
        ScheduleId.Validate(id) is null ? Grain(id).GetAsync() : Task.FromResult<ScheduleSnapshot?>(null);

    public Task<ScheduleResult> PauseAsync(string id, string? note = null) => Grain(id).PauseAsync(note);

    public Task<ScheduleResult> ResumeAsync(string id) => Grain(id).ResumeAsync();

    public Task<ScheduleResult> TriggerAsync(string id) => Grain(id).TriggerAsync();

    public Task<ScheduleResult> BackfillAsync(string id, DateTimeOffset from, DateTimeOffset to) => Grain(id).BackfillAsync(from, to);

    public Task<bool> DeleteAsync(string id) =>
        ScheduleId.Validate(id) is null ? Grain(id).DeleteAsync() : Task.FromResult(false);

    /// <summary>A page of schedules in id order, and the cursor (the last id) when more follow.</summary>
    public async Task<(IReadOnlyList<ScheduleSnapshot> Items, string? NextCursor)> ListAsync(int limit = 50, string? cursor = null)
    {
        var (ids, more) = await grains.GetGrain<IScheduleDirectoryGrain>(0).ListAsync(cursor, limit);
        var snapshots = await Task.WhenAll(ids.Select(id => Grain(id).GetAsync()));
        return ([.. snapshots.OfType<ScheduleSnapshot>()], more && ids.Count > 0 ? ids[^1] : null);
    }

    private IScheduleGrain Grain(string id) => ScheduleId.Validate(id) is { } problem
        ? throw new ArgumentException($"Schedule id {problem}", nameof(id))
        : grains.GetGrain<IScheduleGrain>(id);
}
