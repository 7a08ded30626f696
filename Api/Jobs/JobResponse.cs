using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Jobs;

/// <summary>
/// A job as the HTTP API shows it. Times are UTC; durations are hh:mm:ss (days as d.hh:mm:ss). <c>callbackUrl</c>:
/// where the outcome is POSTed when the job finishes (null for none).
/// </summary>
public sealed record JobResponse(
    string Id,
    string Type,
    string Status,
    JsonElement Payload,
    int Attempts,
    int MaxRetries,
    TimeSpan MinBackoff,
    TimeSpan MaxBackoff,
    TimeSpan Timeout,
    DateTime CreatedAt,
    DateTime? ScheduledFor,
    DateTime? StartedAt,
    DateTime? FinishedAt,
    DateTime? NextAttemptAt,
    JobErrorResponse? LastError,
    JsonElement? Result,
    IReadOnlyList<AttemptResponse> History,
    int Round,
    DateTime? CancelRequestedAt,
    DateTime? ExpiresAt)
{
    public string? CallbackUrl { get; init; }

    /// <summary>The handler's last reported progress (this round); null until it reports.</summary>
    public ProgressResponse? Progress { get; init; }

    /// <summary>Goes up with every stored change of the job; the id of its live events (<c>GET /jobs/{id}/events</c>).</summary>
    public long Version { get; init; }

    /// <summary>Why the job is not running now (null when it runs without a pending cancel, or has finished): see the README's reasons.</summary>
    public WaitingForResponse? WaitingFor { get; init; }

    /// <summary>The round's first attempt must start by then, or the job ends cancelled as Expired; null for no limit.</summary>
    public DateTime? StartBy { get; init; }

    /// <summary>The job option maxAge (restarted by a requeue); null for none.</summary>
    public TimeSpan? MaxAge { get; init; }

    public static JobResponse From(JobSnapshot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return new(
            s.Id, s.Type, s.Status.ToWireName(), Parse(s.PayloadJson), s.Attempts,
            s.Policy.MaxRetries, s.Policy.MinBackoff, s.Policy.MaxBackoff, s.Policy.Timeout,
            s.CreatedAt.UtcDateTime, s.ScheduledFor?.UtcDateTime, s.StartedAt?.UtcDateTime, s.FinishedAt?.UtcDateTime,
            s.NextAttemptAt?.UtcDateTime, JobErrorResponse.From(s.LastError),
            s.ResultJson is null ? null : Parse(s.ResultJson),
            [.. s.History.Select(AttemptResponse.From)],
            s.Round, s.CancelRequestedAt?.UtcDateTime, s.ExpiresAt?.UtcDateTime)
        {
            CallbackUrl = s.CallbackUrl,
            Progress = ProgressResponse.From(s.Progress),
            Version = s.Version,
            WaitingFor = WaitingForResponse.From(s.WaitingFor),
            StartBy = s.StartBy?.UtcDateTime,
            MaxAge = s.MaxAge,
        };
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

/// <summary>A handler's progress report: percent 0-100, its detail as it passed it (any JSON, or null), and when.</summary>
public sealed record ProgressResponse(double Percent, JsonElement? Detail, DateTime UpdatedAt)
{
    public static ProgressResponse? From(JobProgress? p)
    {
        if (p is null)
        {
            return null;
        }

        JsonElement? detail = null;
        if (p.DetailJson is not null)
        {
            using var document = JsonDocument.Parse(p.DetailJson);
            detail = document.RootElement.Clone();
        }

        return new(p.Percent, detail, p.UpdatedAt.UtcDateTime);
    }
}

/// <summary>
/// Why a job waits: <c>reason</c> a camelCase word from an open set, <c>detail</c> one sentence, <c>until</c> when the
/// wait ends if known; a <c>workerSlot</c> wait also names the silo and its slots.
/// </summary>
public sealed record WaitingForResponse(string Reason, string Detail, DateTime? Until)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Silo { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? SlotsUsed { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? SlotsTotal { get; init; }

    public static WaitingForResponse? From(JobWaitingFor? w) => w is null ? null : new(w.Reason, w.Detail, w.Until?.UtcDateTime)
    {
        Silo = w.Silo,
        SlotsUsed = w.SlotsUsed,
        SlotsTotal = w.SlotsTotal,
    };
}

/// <summary>What went wrong: exception type and message, never a stack trace.</summary>
public sealed record JobErrorResponse(string Type, string Message)
{
    public static JobErrorResponse? From(JobError? error) => error is null ? null : new(error.Type, error.Message);
}

/// <summary>
/// One attempt: outcome is running, succeeded, failed, timedOut, interrupted, handedOff or cancelled; round is the
/// job's round it belongs to (1 until the job is first requeued).
/// </summary>
public sealed record AttemptResponse(int Number, DateTime StartedAt, DateTime? FinishedAt, string Outcome, JobErrorResponse? Error, string Silo, int Round)
{
    public static AttemptResponse From(JobAttempt a) => new(
        a.Number, a.StartedAt.UtcDateTime, a.FinishedAt?.UtcDateTime,
        JsonNamingPolicy.CamelCase.ConvertName(a.Outcome.ToString()), JobErrorResponse.From(a.Error), a.Silo, a.Round);
}

/// <summary>A registered job type and its defaults.</summary>
public sealed record JobTypeResponse(string Name, string PayloadType, int MaxRetries, TimeSpan MinBackoff, TimeSpan MaxBackoff, TimeSpan Timeout)
{
    public static JobTypeResponse From(JobTypeInfo t) =>
        new(t.Name, t.PayloadType, t.Defaults.MaxRetries, t.Defaults.MinBackoff, t.Defaults.MaxBackoff, t.Defaults.Timeout);
}
