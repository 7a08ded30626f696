using System.Globalization;
using Microsoft.Extensions.Options;

namespace OrleansTasks.Jobs;

/// <summary>
/// How long finished jobs are kept (<c>Jobs:Retention</c>). Each period is a duration (<c>1.00:00:00</c>,
/// <c>00:01:00</c>) or <c>infinite</c>. A job's id can be enqueued again once its job is removed, so a period is
/// also the id's idempotency window.
/// </summary>
public sealed class JobRetentionOptions
{
    /// <summary>Default 1 day.</summary>
    public string Succeeded { get; set; } = "1.00:00:00";

    /// <summary>Default 1 day.</summary>
    public string Cancelled { get; set; } = "1.00:00:00";

    /// <summary>Default 7 days.</summary>
    public string Failed { get; set; } = "7.00:00:00";

    /// <summary>Most succeeded jobs kept; the oldest beyond it are removed first. Default: no cap.</summary>
    public long? MaxSucceeded { get; set; }

    /// <summary>Most cancelled jobs kept; the oldest beyond it are removed first. Default: no cap.</summary>
    public long? MaxCancelled { get; set; }

    /// <summary>Most failed jobs kept; the oldest beyond it are removed first. Default: no cap.</summary>
    public long? MaxFailed { get; set; }

    /// <summary>How often the sweeper removes expired jobs. Default 10 seconds.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The period for <paramref name="status"/>, null for <c>infinite</c>.</summary>
    public TimeSpan? For(JobStatus status) => Parse(status switch
    {
        JobStatus.Succeeded => Succeeded,
        JobStatus.Cancelled => Cancelled,
        JobStatus.Failed => Failed,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Only finished jobs have a retention."),
    }) ?? throw new InvalidOperationException($"Jobs:Retention:{status} is not a duration or 'infinite'.");

    /// <summary>The cap for <paramref name="status"/>, null when none.</summary>
    public long? CapOf(JobStatus status) => status switch
    {
        JobStatus.Succeeded => MaxSucceeded,
        JobStatus.Cancelled => MaxCancelled,
        JobStatus.Failed => MaxFailed,
        _ => null,
    };

    /// <summary>Null when the text is neither; an infinite period parses to <see cref="Timeout.InfiniteTimeSpan"/>, read as "keep".</summary>
    private static TimeSpan? Parse(string? text) =>
        string.Equals(text?.Trim(), "infinite", StringComparison.OrdinalIgnoreCase) ? Timeout.InfiniteTimeSpan
        : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var period) && period > TimeSpan.Zero ? period
        : null;

    internal IEnumerable<string> Validate()
    {
        foreach (var (name, value) in new[] { ("Succeeded", Succeeded), ("Cancelled", Cancelled), ("Failed", Failed) })
        {
            if (Parse(value) is null)
            {
                yield return $"Jobs:Retention:{name} must be a positive duration (d.hh:mm:ss) or 'infinite', not '{value}'.";
            }
        }

        foreach (var (name, value) in new[] { ("MaxSucceeded", MaxSucceeded), ("MaxCancelled", MaxCancelled), ("MaxFailed", MaxFailed) })
        {
            if (value is < 0)
            {
                yield return $"Jobs:Retention:{name} must not be negative.";
            }
        }

        if (SweepInterval < TimeSpan.FromMilliseconds(100) || SweepInterval > TimeSpan.FromHours(1))
        {
            yield return "Jobs:Retention:SweepInterval must be between 100 ms and 1 hour.";
        }
    }
}

/// <summary>When a finished job expires: its type's retention when registered with one, else <c>Jobs:Retention</c>.</summary>
public sealed class JobRetention(IOptions<JobsOptions> options, JobTypeRegistry registry)
{
    // Parsed once (IOptions does not change while the silo runs): every finished job's writes ask.
    private JobTypeRetention? _configured;

    /// <summary>Null while the job is not finished, or when it is kept for ever.</summary>
    public DateTimeOffset? ExpiresAt(JobState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!state.Status.IsTerminal() || state.FinishedAt is not { } finished)
        {
            return null;
        }

        var period = registry.TryGet(state.Type, out var type) && type.Retention.For(state.Status) is { } own
            ? own
            : Configured.For(state.Status);
        return period == Timeout.InfiniteTimeSpan || period is not { } p ? null
            : p >= DateTimeOffset.MaxValue - finished ? null
            : finished + p;
    }

    private JobTypeRetention Configured => _configured ??= new(
        options.Value.Retention.For(JobStatus.Succeeded), options.Value.Retention.For(JobStatus.Cancelled), options.Value.Retention.For(JobStatus.Failed));
}

/// <summary>A job type's own retention, set at registration; null keeps the <c>Jobs:Retention</c> setting.</summary>
public sealed record JobTypeRetention(TimeSpan? Succeeded, TimeSpan? Cancelled, TimeSpan? Failed)
{
    public static readonly JobTypeRetention Inherit = new(null, null, null);

    public TimeSpan? For(JobStatus status) => status switch
    {
        JobStatus.Succeeded => Succeeded,
        JobStatus.Cancelled => Cancelled,
        JobStatus.Failed => Failed,
        _ => null,
    };
}
