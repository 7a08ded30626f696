using OrleansTasks.Jobs;
using OrleansTasks.Schedules;

namespace OrleansTasks.Tests.Unit;

/// <summary>
/// The schedule's misfire and overlap policies through <see cref="ScheduleDecider"/>, without a cluster: every misfire
/// policy × every overlap policy × the previous job (none, running, finished) × an occurrence on time, late within the
/// catch-up window or beyond it; then the cases one row cannot show (several occurrences, buffering, jitter, wake-ups).
/// </summary>
public sealed class ScheduleDeciderTests
{
    private const string Id = "nightly";
    private const string PreviousJob = "nightly:20261128T000000Z";

    // A daily schedule at midnight UTC; the occurrence under test is the one of 2026-11-29.
    private static readonly DateTimeOffset Occurrence = new(2026, 11, 29, 0, 0, 0, TimeSpan.Zero);

    private static readonly Dictionary<string, TimeSpan> Lateness = new(StringComparer.Ordinal)
    {
        ["onTime"] = TimeSpan.FromMilliseconds(500),
        ["late"] = TimeSpan.FromMinutes(10),
        ["beyond"] = TimeSpan.FromHours(2),
    };

    private static readonly Dictionary<string, JobStatus?> Previous = new(StringComparer.Ordinal)
    {
        ["none"] = null,
        ["running"] = JobStatus.Running,
        ["finished"] = JobStatus.Succeeded,
    };

    private static readonly Func<DateTimeOffset, TimeSpan> NoJitter = _ => TimeSpan.Zero;

    public static TheoryData<MisfirePolicy, OverlapPolicy, string, string, string> PolicyTable() => new()
    {
        // misfire, overlap, previous job, occurrence, expected step ("nothing": no step, the window let it go)
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "none", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "running", "onTime", "skip:overlap" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "running", "late", "skip:overlap" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "running", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Skip, "finished", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "none", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "running", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "running", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "running", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.Allow, "finished", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "none", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "running", "onTime", "buffer:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "running", "late", "buffer:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "running", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.BufferOne, "finished", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "none", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "running", "onTime", "cancel+enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "running", "late", "cancel+enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "running", "beyond", "nothing" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunOnce, OverlapPolicy.CancelOther, "finished", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "none", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "running", "onTime", "skip:overlap" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "running", "late", "skip:overlap" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "running", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.Skip, "finished", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "none", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "running", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "running", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "running", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.Allow, "finished", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "none", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "running", "onTime", "buffer:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "running", "late", "buffer:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "running", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.BufferOne, "finished", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "none", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "none", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "running", "onTime", "cancel+enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "running", "late", "cancel+enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "running", "beyond", "nothing" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "finished", "late", "enqueue:catchUp" },
        { MisfirePolicy.RunAll, OverlapPolicy.CancelOther, "finished", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "none", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "none", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "running", "onTime", "skip:overlap" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "running", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "running", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "finished", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.Skip, "finished", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "none", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "none", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "running", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "running", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "running", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "finished", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.Allow, "finished", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "none", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "none", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "running", "onTime", "buffer:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "running", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "running", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "finished", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.BufferOne, "finished", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "none", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "none", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "none", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "running", "onTime", "cancel+enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "running", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "running", "beyond", "nothing" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "finished", "onTime", "enqueue:scheduled" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "finished", "late", "skip:missed" },
        { MisfirePolicy.Skip, OverlapPolicy.CancelOther, "finished", "beyond", "nothing" },
    };

    private static ScheduleState State(MisfirePolicy misfire = MisfirePolicy.RunOnce, OverlapPolicy overlap = OverlapPolicy.Skip, string? lastJobId = PreviousJob) => new()
    {
        Definition = new ScheduleDefinition { Type = "echo", Every = TimeSpan.FromDays(1), Misfire = misfire, Overlap = overlap, CatchUpWindow = TimeSpan.FromHours(1) },
        CreatedAt = Occurrence - TimeSpan.FromDays(30),
        UpdatedAt = Occurrence - TimeSpan.FromDays(30),
        LastOccurrence = Occurrence - TimeSpan.FromDays(1),
        LastJobId = lastJobId,
    };

    private static ScheduleSpec Spec(ScheduleState state)
    {
        var (spec, errors) = ScheduleSpec.Of(state.Definition);
        Assert.Empty(errors);
        return spec!;
    }

    private static string Describe(ScheduleStep step) => step switch
    {
        ScheduleStep.Enqueue { CancelFirst: not null } e => $"cancel+enqueue:{e.Kind}",
        ScheduleStep.Enqueue e => $"enqueue:{e.Kind}",
        ScheduleStep.Buffer b => $"buffer:{b.Kind}",
        ScheduleStep.Skip s when s.Reason.StartsWith("overlap", StringComparison.Ordinal) => "skip:overlap",
        ScheduleStep.Skip s when s.Reason.StartsWith("missed", StringComparison.Ordinal) => "skip:missed",
        ScheduleStep.Skip s => $"skip:{s.Reason}",
        _ => throw new InvalidOperationException($"unknown step {step}"),
    };

    [Theory]
    [MemberData(nameof(PolicyTable))]
    public void EachPolicyDecidesTheOccurrenceByThePreviousJobAndItsLateness(MisfirePolicy misfire, OverlapPolicy overlap, string previous, string lateness, string expected)
    {
        var state = State(misfire, overlap, lastJobId: previous == "none" ? null : PreviousJob);
        var now = Occurrence + Lateness[lateness];

        var decision = ScheduleDecider.Decide(Id, state, Spec(state), now, NoJitter, Previous[previous]);

        Assert.Equal(expected, decision.Steps.Count == 0 ? "nothing" : string.Join(", ", decision.Steps.Select(Describe)));
        Assert.Equal(decision.Candidates.Count, decision.Steps.Count);
        Assert.All(decision.Steps, s => Assert.Equal(Occurrence, s.Occurrence));

        // Handled either way, and never again; beyond the window everything up to now is let go.
        Assert.True(decision.Changed);
        Assert.Equal(lateness == "beyond" ? now : Occurrence, decision.LastOccurrence);

        // Counted as missed only inside the window: what lies beyond it is not looked at.
        (int, int) missed = lateness != "late" ? (0, 0) : misfire == MisfirePolicy.Skip ? (0, 1) : (1, 0);
        Assert.Equal(missed, decision.Missed);
        if (decision.Steps is [ScheduleStep.Enqueue enqueue])
        {
            Assert.Equal(ScheduleId.JobIdFor(Id, Occurrence), enqueue.JobId);
            Assert.Null(enqueue.RunAt);
            Assert.Equal(expected.StartsWith("cancel", StringComparison.Ordinal) ? PreviousJob : null, enqueue.CancelFirst);
        }
    }

    [Fact]
    public void ThePolicyTableHasARowForEveryPolicyPreviousJobAndLateness()
    {
        // A new policy value fails here until the table says what it does.
        var rows = PolicyTable().Select(r => ((MisfirePolicy)r[0], (OverlapPolicy)r[1], (string)r[2], (string)r[3])).ToList();
        Assert.Equal(rows.Count, rows.Distinct().Count());
        foreach (var misfire in Enum.GetValues<MisfirePolicy>())
        {
            foreach (var overlap in Enum.GetValues<OverlapPolicy>())
            {
                foreach (var previous in Previous.Keys)
                {
                    foreach (var lateness in Lateness.Keys)
                    {
                        Assert.Contains((misfire, overlap, previous, lateness), rows);
                    }
                }
            }
        }
    }

    [Fact]
    public void EveryJobStatusIsEitherRunningOrFinishedForTheOverlapPolicy()
    {
        foreach (var status in Enum.GetValues<JobStatus>())
        {
            var facts = OverlapFacts.Of(State(), status);
            Assert.Equal(!status.IsTerminal(), facts.PreviousRunning);
        }

        Assert.False(OverlapFacts.Of(State(), null).PreviousRunning);
        Assert.False(OverlapFacts.Of(State(lastJobId: null), JobStatus.Running).PreviousRunning);
    }

    [Fact]
    public void AValueOutsideThePoliciesIsRefusedRatherThanGuessed()
    {
        var unknownMisfire = State() with { Definition = State().Definition with { Misfire = (MisfirePolicy)99 } };
        Assert.Throws<ArgumentOutOfRangeException>(() => ScheduleDecider.Decide(Id, unknownMisfire, Spec(State()), Occurrence + TimeSpan.FromMinutes(10), NoJitter, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => ScheduleDecider.Resolve(Id, (OverlapPolicy)99, [], OverlapFacts.Of(State(), null), Occurrence, NoJitter));
    }

    [Theory]
    [InlineData(MisfirePolicy.RunAll, "catchUp 23:00 22:00 21:00 20:00 | enqueue 20:00, enqueue 21:00, enqueue 22:00, enqueue 23:00")]
    [InlineData(MisfirePolicy.RunOnce, "catchUp 23:00 22:00 21:00 20:00 | skip 20:00, skip 21:00, skip 22:00, enqueue 23:00")]
    [InlineData(MisfirePolicy.Skip, "catchUp 23:00 22:00 21:00 20:00 | skip 20:00, skip 21:00, skip 22:00, skip 23:00")]
    public void MissedOccurrencesInsideTheWindowAreRunOrSkippedOldestFirstAndThoseBeforeItAreLetGo(MisfirePolicy misfire, string expected)
    {
        // Hourly, down from 10:00 to 23:30 with a 4-hour window: 20:00..23:00 are inside it, 11:00..19:00 let go.
        var state = State(misfire, OverlapPolicy.Allow) with
        {
            Definition = State().Definition with { Every = TimeSpan.FromHours(1), Misfire = misfire, Overlap = OverlapPolicy.Allow, CatchUpWindow = TimeSpan.FromHours(4) },
            LastOccurrence = Occurrence.AddHours(10),
        };
        var now = Occurrence.AddHours(23.5);

        var decision = ScheduleDecider.Decide(Id, state, Spec(state), now, NoJitter, JobStatus.Running);

        var kinds = string.Join(" ", decision.Steps.Select(s => s.Kind).Distinct());
        var hours = string.Join(" ", decision.Steps.Select(s => s.Occurrence).OrderDescending().Select(o => o.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture)));
        var steps = string.Join(", ", decision.Steps.Select(s => $"{(s is ScheduleStep.Enqueue ? "enqueue" : "skip")} {s.Occurrence:HH:mm}"));
        Assert.Equal(expected, $"{kinds} {hours} | {steps}");
        Assert.Equal(Occurrence.AddHours(23), decision.LastOccurrence);
    }

    [Fact]
    public void AtMostTheRunsKeptAreRecordedForSkippedMisfiresButAllAreCounted()
    {
        var state = State(MisfirePolicy.Skip, OverlapPolicy.Allow) with
        {
            Definition = State().Definition with { Every = TimeSpan.FromMinutes(1), Misfire = MisfirePolicy.Skip, CatchUpWindow = TimeSpan.FromHours(1) },
            LastOccurrence = Occurrence,
        };

        var decision = ScheduleDecider.Decide(Id, state, Spec(state), Occurrence.AddMinutes(45).AddSeconds(30), NoJitter, null);

        Assert.Equal(ScheduleDecider.RunsKept, decision.Steps.Count);
        Assert.Equal((0, 45), decision.Missed);
        Assert.Equal(Occurrence.AddMinutes(45), decision.Steps[^1].Occurrence);
    }

    [Theory]
    [InlineData(OverlapPolicy.Skip, "enqueue, skip:overlap, skip:overlap")]
    [InlineData(OverlapPolicy.Allow, "enqueue, enqueue, enqueue")]
    [InlineData(OverlapPolicy.BufferOne, "enqueue, buffer, skip:already buffered")]
    [InlineData(OverlapPolicy.CancelOther, "enqueue, cancel first, cancel first")]
    public void AJobEnqueuedEarlierInTheSamePlanIsThePreviousJobOfTheNext(OverlapPolicy overlap, string expected)
    {
        var candidates = Enumerable.Range(0, 3).Select(i => new ScheduleCandidate(Occurrence.AddHours(i), "backfill", CandidateRule.FollowOverlap)).ToList();

        var steps = ScheduleDecider.Resolve(Id, overlap, candidates, OverlapFacts.Of(State(), JobStatus.Succeeded), Occurrence.AddDays(1), NoJitter);

        Assert.Equal(expected, string.Join(", ", steps.Select(s => s switch
        {
            ScheduleStep.Enqueue { CancelFirst: { } cancelled } => cancelled == ScheduleId.JobIdFor(Id, Occurrence.AddHours(0)) || cancelled == ScheduleId.JobIdFor(Id, Occurrence.AddHours(1)) ? "cancel first" : $"cancel {cancelled}",
            ScheduleStep.Enqueue => "enqueue",
            ScheduleStep.Buffer => "buffer",
            ScheduleStep.Skip { Reason: "overlap: an occurrence is already buffered" } => "skip:already buffered",
            ScheduleStep.Skip => "skip:overlap",
            _ => "?",
        })));
    }

    [Theory]
    [InlineData("running", false, "")]
    [InlineData("finished", true, "enqueue:buffered")]
    [InlineData("none", true, "enqueue:buffered")]
    public void ABufferedOccurrenceRunsOnceThePreviousJobHasFinishedWhateverTheOverlapPolicy(string previous, bool released, string expected)
    {
        var buffered = Occurrence - TimeSpan.FromMinutes(30);
        var state = State(overlap: OverlapPolicy.BufferOne, lastJobId: previous == "none" ? null : PreviousJob) with { Buffered = buffered };

        // Nothing else is due: the next occurrence is hours away.
        var now = Occurrence - TimeSpan.FromMinutes(10);
        var decision = ScheduleDecider.Decide(Id, state, Spec(state), now, NoJitter, Previous[previous]);

        Assert.Equal(released, decision.ReleaseBuffered);
        Assert.Equal(released, decision.Changed);
        Assert.Equal(expected, string.Join(", ", decision.Steps.Select(Describe)));
        Assert.All(decision.Steps, s => Assert.Equal(buffered, s.Occurrence));
        Assert.Null(decision.LastOccurrence);

        // While it waits the grain looks again every second; once it ran, at the next occurrence.
        Assert.Equal(released ? Occurrence : now + TimeSpan.FromSeconds(1), decision.WakeAt);
    }

    [Fact]
    public void AnOccurrenceDueTogetherWithItsReleasedBufferedOneWaitsForIt()
    {
        var state = State(overlap: OverlapPolicy.BufferOne) with { Buffered = Occurrence - TimeSpan.FromMinutes(30) };

        var decision = ScheduleDecider.Decide(Id, state, Spec(state), Occurrence + TimeSpan.FromMilliseconds(200), NoJitter, JobStatus.Succeeded);

        Assert.Equal("enqueue:buffered, buffer:scheduled", string.Join(", ", decision.Steps.Select(Describe)));
        Assert.Equal(TimeSpan.FromSeconds(1), decision.WakeAt - (Occurrence + TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public void JitterDelaysTheStartOfTheJobButNotTheOccurrenceItBelongsTo()
    {
        var state = State(overlap: OverlapPolicy.Allow);
        var now = Occurrence + TimeSpan.FromMilliseconds(500);

        var later = ScheduleDecider.Decide(Id, state, Spec(state), now, _ => TimeSpan.FromSeconds(7), null);
        var passed = ScheduleDecider.Decide(Id, state, Spec(state), now, _ => TimeSpan.FromMilliseconds(100), null);

        var enqueue = Assert.IsType<ScheduleStep.Enqueue>(Assert.Single(later.Steps));
        Assert.Equal(Occurrence + TimeSpan.FromSeconds(7), enqueue.RunAt);
        Assert.Equal(ScheduleId.JobIdFor(Id, Occurrence), enqueue.JobId);

        // A jittered start already behind the clock starts at once.
        Assert.Null(Assert.IsType<ScheduleStep.Enqueue>(Assert.Single(passed.Steps)).RunAt);
    }

    [Fact]
    public void NothingDueWakesAtTheNextOccurrenceAtMostTenMinutesAwayAndNeverWhenPausedDeletedOrEnded()
    {
        var state = State();
        var spec = Spec(state);

        var early = ScheduleDecider.Decide(Id, state, spec, Occurrence - TimeSpan.FromMinutes(3), NoJitter, null);
        Assert.Empty(early.Steps);
        Assert.False(early.Changed);
        Assert.Equal(Occurrence, early.WakeAt);

        Assert.Equal(Occurrence - TimeSpan.FromHours(5) + TimeSpan.FromMinutes(10), ScheduleDecider.WakeAt(state, spec, Occurrence - TimeSpan.FromHours(5)));

        // After a failure the grain asks for a pause, even when the occurrence is nearer.
        var justBefore = Occurrence - TimeSpan.FromMilliseconds(500);
        Assert.Equal(justBefore + TimeSpan.FromSeconds(1), ScheduleDecider.WakeAt(state, spec, justBefore, minimumWait: TimeSpan.FromSeconds(1)));
        Assert.Null(ScheduleDecider.WakeAt(state with { Paused = true }, spec, Occurrence));
        Assert.Null(ScheduleDecider.WakeAt(state with { Deleted = true }, spec, Occurrence));

        var ended = state with { Definition = state.Definition with { EndAt = Occurrence - TimeSpan.FromHours(1) } };
        Assert.True(ScheduleDecider.Finished(ended, Spec(ended)));
        Assert.Null(ScheduleDecider.WakeAt(ended, Spec(ended), Occurrence));
        Assert.False(ScheduleDecider.Finished(ended with { Buffered = Occurrence }, Spec(ended)));
    }

    [Fact]
    public void ThePreviousJobIsAskedForOnlyWhenAPolicyLooksAtIt()
    {
        var spec = Spec(State());
        var due = Occurrence + TimeSpan.FromMilliseconds(500);
        Assert.True(ScheduleDecider.NeedsPreviousStatus(State(), spec, due));
        Assert.False(ScheduleDecider.NeedsPreviousStatus(State(), spec, Occurrence - TimeSpan.FromMinutes(1)));
        Assert.False(ScheduleDecider.NeedsPreviousStatus(State(overlap: OverlapPolicy.Allow), spec, due));
        Assert.True(ScheduleDecider.NeedsPreviousStatus(State(overlap: OverlapPolicy.Allow) with { Buffered = Occurrence }, spec, Occurrence - TimeSpan.FromMinutes(1)));
        Assert.False(ScheduleDecider.NeedsPreviousStatus(State(lastJobId: null), spec, due));
    }
}
