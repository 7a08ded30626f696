using OrleansTasks.Schedules;

namespace OrleansTasks.Tests.Unit;

/// <summary>When occurrences fall: intervals, cron in a time zone across daylight-saving changes, bounds and jitter.</summary>
public sealed class ScheduleSpecTests
{
    private static ScheduleSpec Spec(ScheduleDefinition definition)
    {
        var (spec, errors) = ScheduleSpec.Of(definition);
        Assert.Empty(errors);
        return spec!;
    }

    private static DateTimeOffset Utc(int year, int month, int day, int hour, int minute = 0) => new(year, month, day, hour, minute, 0, TimeSpan.Zero);

    [Fact]
    public void IntervalsAreAlignedToTheEpochOrToStartAtAndStopAtEndAt()
    {
        var every = Spec(new ScheduleDefinition { Every = TimeSpan.FromMinutes(15) });
        Assert.Equal(Utc(2026, 11, 29, 10, 15), every.Next(Utc(2026, 11, 29, 10, 3)));
        Assert.Equal(Utc(2026, 11, 29, 10, 30), every.Next(Utc(2026, 11, 29, 10, 15)));

        var bounded = Spec(new ScheduleDefinition { Every = TimeSpan.FromMinutes(15), StartAt = Utc(2026, 11, 29, 10, 7), EndAt = Utc(2026, 11, 29, 10, 40) });
        Assert.Equal(Utc(2026, 11, 29, 10, 7), bounded.Next(Utc(2026, 1, 1, 0)));
        Assert.Equal([Utc(2026, 11, 29, 10, 7), Utc(2026, 11, 29, 10, 22), Utc(2026, 11, 29, 10, 37)], bounded.Between(Utc(2026, 1, 1, 0), Utc(2027, 1, 1, 0), 10));
        Assert.Null(bounded.Next(Utc(2026, 11, 29, 10, 37)));
    }

    [Fact]
    public void ACronIsReadInItsTimeZone()
    {
        var paris = Spec(new ScheduleDefinition { Cron = "0 2 * * *", TimeZone = "Europe/Paris" });

        // 02:00 in Paris is 01:00 UTC in winter.
        Assert.Equal(Utc(2026, 11, 30, 1), paris.Next(Utc(2026, 11, 29, 12)));
    }

    [Fact]
    public void InTheSpringGapAFixedTimeOccurrenceFiresOnceAtTheFirstInstantAfterTheGap()
    {
        // 2026-03-29 in Paris: 02:00 local jumps to 03:00 (01:00 UTC). The 02:30 occurrence does not exist.
        var spec = Spec(new ScheduleDefinition { Cron = "30 2 * * *", TimeZone = "Europe/Paris" });
        var runs = spec.Between(Utc(2026, 3, 28, 0), Utc(2026, 3, 31, 0), 10);
        Assert.Equal([Utc(2026, 3, 28, 1, 30), Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 30, 0, 30)], runs);
    }

    [Fact]
    public void InTheAutumnOverlapAFixedTimeOccurrenceFiresOnceAndAnIntervalCronFiresInBothHours()
    {
        // 2026-10-25 in Paris: 03:00 local goes back to 02:00 (01:00 UTC); 02:30 local happens twice.
        var daily = Spec(new ScheduleDefinition { Cron = "30 2 * * *", TimeZone = "Europe/Paris" });
        Assert.Equal([Utc(2026, 10, 25, 0, 30)], daily.Between(Utc(2026, 10, 24, 23), Utc(2026, 10, 25, 3), 10));

        var everyHalfHour = Spec(new ScheduleDefinition { Cron = "*/30 2 * * *", TimeZone = "Europe/Paris" });
        Assert.Equal(
            [Utc(2026, 10, 25, 0, 0), Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 25, 1, 0), Utc(2026, 10, 25, 1, 30)],
            everyHalfHour.Between(Utc(2026, 10, 24, 23), Utc(2026, 10, 25, 3), 10));
    }

    [Fact]
    public void AnEveryIntervalIsElapsedTimeWhateverTheZone()
    {
        var spec = Spec(new ScheduleDefinition { Every = TimeSpan.FromHours(1), TimeZone = "Europe/Paris" });
        var runs = spec.Between(Utc(2026, 10, 24, 23), Utc(2026, 10, 25, 3), 10);
        Assert.All(runs.Zip(runs.Skip(1)), pair => Assert.Equal(TimeSpan.FromHours(1), pair.Second - pair.First));
        Assert.Equal(4, runs.Count);
    }

    [Fact]
    public void JitterIsFixedPerOccurrenceAndWithinItsBound()
    {
        var at = Utc(2026, 11, 29, 2);
        var jitter = ScheduleSpec.JitterFor("nightly", at, TimeSpan.FromMinutes(5));
        Assert.Equal(jitter, ScheduleSpec.JitterFor("nightly", at, TimeSpan.FromMinutes(5)));
        Assert.InRange(jitter, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        var spread = Enumerable.Range(0, 50).Select(i => ScheduleSpec.JitterFor("nightly", at.AddDays(i), TimeSpan.FromMinutes(5))).Distinct().Count();
        Assert.True(spread > 40, $"only {spread} distinct jitters over 50 occurrences");
        Assert.Equal(TimeSpan.Zero, ScheduleSpec.JitterFor("nightly", at, null));
    }

    [Fact]
    public void OccurrenceJobIdsNameTheInstantInUtc()
    {
        var at = new DateTimeOffset(2026, 11, 30, 3, 0, 0, TimeSpan.FromHours(1));
        Assert.Equal("nightly-report:20261130T020000Z", ScheduleId.JobIdFor("nightly-report", at));
        Assert.Equal("nightly-report:manual:20261130T020000123Z", ScheduleId.ManualJobIdFor("nightly-report", at.AddMilliseconds(123)));
        Assert.NotNull(ScheduleId.Validate("a:b"));
        Assert.Null(ScheduleId.Validate("nightly-report.v2_x"));
    }
}
