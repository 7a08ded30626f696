using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace OrleansTasks.Jobs;

/// <summary>
/// Which jobs a listing, a count or a bulk operation covers; all set fields must hold (AND). Statuses is an OR of its
/// members; empty means any. Creation times compare at millisecond precision: <c>CreatedAfter &lt; createdAt &lt;
/// CreatedBefore</c>.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobFilter")]
public sealed record JobFilter
{
    [Id(0)] public IReadOnlyList<JobStatus> Statuses { get; init; } = [];
    [Id(1)] public string? Type { get; init; }
    [Id(2)] public DateTimeOffset? CreatedAfter { get; init; }
    [Id(3)] public DateTimeOffset? CreatedBefore { get; init; }
    [Id(4)] public string? IdPrefix { get; init; }

    /// <summary>Field errors keyed by the HTTP parameter name; empty when usable.</summary>
    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (Type is { } type && (type.Length == 0 || type.Length > 200))
        {
            errors["type"] = ["must be 1 to 200 characters."];
        }

        if (IdPrefix is { } prefix && (prefix.Length is 0 or > JobId.MaxLength || !prefix.All(IsIdChar)))
        {
            errors["idPrefix"] = ["must be the start of a job id: 1-128 of A-Za-z0-9._:-"];
        }

        if (CreatedAfter is { } after && CreatedBefore is { } before && after >= before)
        {
            errors["createdBefore"] = ["must be later than createdAfter."];
        }

        return errors;

        static bool IsIdChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-';
    }
}

/// <summary>One job in a listing: what a table row shows, without payload, result or history.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobSummary")]
public sealed record JobSummary
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Type { get; init; }
    [Id(2)] public required JobStatus Status { get; init; }
    [Id(3)] public int Attempts { get; init; }
    [Id(4)] public DateTimeOffset CreatedAt { get; init; }
    [Id(5)] public DateTimeOffset? StartedAt { get; init; }
    [Id(6)] public DateTimeOffset? FinishedAt { get; init; }
    [Id(7)] public DateTimeOffset? NextAttemptAt { get; init; }
    [Id(8)] public JobError? LastError { get; init; }
    [Id(9)] public int Round { get; init; } = 1;

    /// <summary>When retention removes the finished job; null while it runs or when kept for ever.</summary>
    [Id(10)] public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>A page of a listing, newest first. A page may hold fewer items than asked while more follow.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobPage")]
public sealed record JobPage([property: Id(0)] IReadOnlyList<JobSummary> Items, [property: Id(1)] string? NextCursor)
{
    /// <summary>Most items one page may be asked for.</summary>
    public const int MaxLimit = 500;
}

/// <summary>Jobs per status, exact when nothing is moving.</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobCounts")]
public sealed record JobCounts
{
    [Id(0)] public long Scheduled { get; init; }
    [Id(1)] public long Queued { get; init; }
    [Id(2)] public long Running { get; init; }
    [Id(3)] public long Retrying { get; init; }
    [Id(4)] public long Succeeded { get; init; }
    [Id(5)] public long Failed { get; init; }
    [Id(6)] public long Cancelled { get; init; }

    public long Of(JobStatus status) => status switch
    {
        JobStatus.Scheduled => Scheduled,
        JobStatus.Queued => Queued,
        JobStatus.Running => Running,
        JobStatus.Retrying => Retrying,
        JobStatus.Succeeded => Succeeded,
        JobStatus.Failed => Failed,
        JobStatus.Cancelled => Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static JobCounts From(Func<JobStatus, long> count)
    {
        ArgumentNullException.ThrowIfNull(count);
        return new()
        {
            Scheduled = count(JobStatus.Scheduled),
            Queued = count(JobStatus.Queued),
            Running = count(JobStatus.Running),
            Retrying = count(JobStatus.Retrying),
            Succeeded = count(JobStatus.Succeeded),
            Failed = count(JobStatus.Failed),
            Cancelled = count(JobStatus.Cancelled),
        };
    }
}

/// <summary>
/// A position in the listing order (creation time in Unix milliseconds descending, then id descending, ordinal):
/// the next page starts strictly after it, so jobs added during a walk never shift what follows.
/// </summary>
public readonly record struct JobCursor(long CreatedMs, string Id)
{
    private const string Version = "1";

    /// <summary>True when the job at (<paramref name="createdMs"/>, <paramref name="id"/>) comes after this position in the listing (older, or as old with a smaller id).</summary>
    public bool IsAfter(long createdMs, string id) =>
        createdMs < CreatedMs || (createdMs == CreatedMs && string.CompareOrdinal(id, Id) < 0);

    public string Encode() =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Version}|{CreatedMs}|{Id}")));

    public static bool TryDecode(string? text, out JobCursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(text) || text.Length > 400)
        {
            return false;
        }

        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return false;
        }

        var parts = Encoding.UTF8.GetString(bytes).Split('|', 3);
        if (parts.Length != 3 || parts[0] != Version
            || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms)
            || parts[2].Length is 0 or > JobId.MaxLength)
        {
            return false;
        }

        cursor = new JobCursor(ms, parts[2]);
        return true;
    }
}

/// <summary>Listing and counting jobs: answered from the job indexes in storage, never by calling job grains.</summary>
[Alias("OrleansTasks.IJobQueryGrain")]
public interface IJobQueryGrain : IGrainWithIntegerKey
{
    /// <summary>Up to <paramref name="limit"/> jobs matching <paramref name="filter"/>, newest first, after <paramref name="cursor"/>.</summary>
    [Alias("List")]
    Task<JobPage> ListAsync(JobFilter filter, int limit, string? cursor);

    /// <summary>Jobs per status, for all types or one.</summary>
    [Alias("Counts")]
    Task<JobCounts> CountsAsync(string? type);

    /// <summary>How many jobs match <paramref name="filter"/> now.</summary>
    [Alias("CountMatching")]
    Task<long> CountMatchingAsync(JobFilter filter);
}
