using Cronos;

namespace OrleansTasks.Schedules;

/// <summary>
/// When a schedule's occurrences fall. Cron expressions are read by Cronos in the schedule's time zone, so
/// daylight-saving changes behave as Cronos documents: an occurrence in a skipped hour (spring forward) fires at the
/// first instant after the gap; in a repeated hour (fall back) a fixed-time occurrence fires once, at its first
/// instance, while interval-like expressions (<c>*/15 * * * *</c>) fire in both instances. <c>every</c> intervals are
/// plain elapsed time, unaffected by time zones.
/// </summary>
public sealed class ScheduleSpec
{
    private readonly CronExpression? _cron;
    private readonly TimeSpan? _every;
    private readonly TimeZoneInfo _zone;
    private readonly DateTimeOffset? _start;
    private readonly DateTimeOffset? _end;

    private ScheduleSpec(CronExpression? cron, TimeSpan? every, TimeZoneInfo zone, DateTimeOffset? start, DateTimeOffset? end)
    {
        _cron = cron;
        _every = every;
        _zone = zone;
        _start = start;
        _end = end;
    }

    /// <summary>The spec of <paramref name="definition"/>, or the field errors that make it unusable.</summary>
    public static (ScheduleSpec? Spec, Dictionary<string, string[]> Errors) Of(ScheduleDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        CronExpression? cron = null;
        if ((definition.Cron is null) == (definition.Every is null))
        {
            errors["cron"] = ["give exactly one of cron and every."];
        }
        else if (definition.Cron is { } text)
        {
            var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            try
            {
                cron = fields switch
                {
                    5 => CronExpression.Parse(text, CronFormat.Standard),
                    6 => CronExpression.Parse(text, CronFormat.IncludeSeconds),
                    _ => throw new CronFormatException($"has {fields} fields; use 5 (minute hour day month weekday) or 6 (seconds first)."),
                };
            }
            catch (CronFormatException ex)
            {
                errors["cron"] = [$"'{text}' is not a valid cron expression: {ex.Message}"];
            }
        }
        else if (definition.Every is { } every && (every < TimeSpan.FromSeconds(1) || every > TimeSpan.FromDays(366)))
        {
            errors["every"] = ["must be between 1 second and 366 days."];
        }

        TimeZoneInfo? zone = null;
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(definition.TimeZone);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            errors["timeZone"] = [$"'{definition.TimeZone}' is not a known IANA time zone id (e.g. UTC, Europe/Paris)."];
        }

        if (definition.StartAt is { } start && definition.EndAt is { } end && end <= start)
        {
            errors["endAt"] = ["must be later than startAt."];
        }

        if (definition.Jitter is { } jitter && (jitter < TimeSpan.Zero || jitter > TimeSpan.FromDays(1)))
        {
            errors["jitter"] = ["must be between 0 and 1 day."];
        }

        if (definition.CatchUpWindow < TimeSpan.Zero || definition.CatchUpWindow > TimeSpan.FromDays(366))
        {
            errors["catchUpWindow"] = ["must be between 0 and 366 days."];
        }

        if (!Enum.IsDefined(definition.Overlap))
        {
            errors["overlap"] = ["must be skip, allow, bufferOne or cancelOther."];
        }

        if (!Enum.IsDefined(definition.Misfire))
        {
            errors["misfire"] = ["must be runOnce, runAll or skip."];
        }

        return errors.Count > 0 || zone is null
            ? (null, errors)
            : (new ScheduleSpec(cron, definition.Every, zone, definition.StartAt, definition.EndAt), errors);
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/>, or null when there is none (past <c>endAt</c>).</summary>
    public DateTimeOffset? Next(DateTimeOffset after)
    {
        if (_start is { } start && after < start)
        {
            // The start itself may be an occurrence.
            after = start - TimeSpan.FromTicks(1);
        }

        DateTimeOffset? next;
        if (_cron is not null)
        {
            next = _cron.GetNextOccurrence(after, _zone, inclusive: false);
        }
        else
        {
            var every = _every!.Value;
            var anchor = _start ?? DateTimeOffset.UnixEpoch;
            var elapsed = after - anchor;
            var k = elapsed < TimeSpan.Zero ? 0 : (elapsed.Ticks / every.Ticks) + 1;
            next = anchor + TimeSpan.FromTicks(every.Ticks * k);
        }

        return next is { } n && (_end is not { } end || n <= end) ? n.ToUniversalTime() : null;
    }

    /// <summary>Occurrences in (<paramref name="after"/>, <paramref name="upTo"/>], oldest first, at most <paramref name="max"/>.</summary>
    public IReadOnlyList<DateTimeOffset> Between(DateTimeOffset after, DateTimeOffset upTo, int max)
    {
        var found = new List<DateTimeOffset>();
        var cursor = after;
        while (found.Count < max && Next(cursor) is { } next && next <= upTo)
        {
            found.Add(next);
            cursor = next;
        }

        return found;
    }

    /// <summary>The last occurrences in (<paramref name="after"/>, <paramref name="upTo"/>], at most <paramref name="max"/> of them (the newest), oldest first.</summary>
    public IReadOnlyList<DateTimeOffset> LatestBetween(DateTimeOffset after, DateTimeOffset upTo, int max)
    {
        // Walk forward but keep only a window: a long downtime of a per-second schedule is many occurrences.
        var window = new Queue<DateTimeOffset>();
        var cursor = after;
        for (var i = 0; i < 1_000_000 && Next(cursor) is { } next && next <= upTo; i++)
        {
            window.Enqueue(next);
            if (window.Count > max)
            {
                window.Dequeue();
            }

            cursor = next;
        }

        return [.. window];
    }

    /// <summary>The delay of the occurrence's job: a fraction of <paramref name="jitter"/> fixed by the schedule id and instant.</summary>
    public static TimeSpan JitterFor(string scheduleId, DateTimeOffset occurrence, TimeSpan? jitter)
    {
        if (jitter is not { } max || max <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var hash = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes($"{scheduleId}|{occurrence.UtcTicks}"))
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return TimeSpan.FromTicks((long)(max.Ticks * (hash / (double)uint.MaxValue)));
    }
}
