using OrleansTasks.Jobs;

namespace OrleansTasks.Schedules;

/// <summary>An occurrence the schedule has to handle, before the overlap policy has had its say.</summary>
/// <param name="Occurrence">The planned instant.</param>
/// <param name="Kind"><c>scheduled</c>, <c>catchUp</c>, <c>buffered</c> or <c>backfill</c> (as recorded in its run).</param>
/// <param name="Rule">How the overlap policy applies to it.</param>
/// <param name="Reason">Why it is skipped, for <see cref="CandidateRule.Missed"/>.</param>
public sealed record ScheduleCandidate(DateTimeOffset Occurrence, string Kind, CandidateRule Rule, string? Reason = null);

/// <summary>How the overlap policy applies to a <see cref="ScheduleCandidate"/>.</summary>
public enum CandidateRule
{
    /// <summary>Enqueued as the overlap policy says.</summary>
    FollowOverlap,

    /// <summary>Enqueued whatever the previous job does: a buffered occurrence whose wait is over.</summary>
    BypassOverlap,

    /// <summary>Skipped by the misfire policy; only recorded.</summary>
    Missed,
}

/// <summary>What to do with one occurrence. The grain carries steps out in order and records each as a run.</summary>
public abstract record ScheduleStep(DateTimeOffset Occurrence, string Kind)
{
    /// <summary>
    /// Enqueue the occurrence's job <c>JobId</c>, to start at <c>RunAt</c> (null: at once; otherwise later by the
    /// occurrence's jitter), after cancelling the previous job <c>CancelFirst</c> when set (overlap <c>cancelOther</c>).
    /// </summary>
    public sealed record Enqueue(DateTimeOffset Occurrence, string Kind, string JobId, DateTimeOffset? RunAt, string? CancelFirst = null)
        : ScheduleStep(Occurrence, Kind);

    /// <summary>Make no job; record the occurrence as skipped because of <paramref name="Reason"/>.</summary>
    public sealed record Skip(DateTimeOffset Occurrence, string Kind, string Reason) : ScheduleStep(Occurrence, Kind);

    /// <summary>Make no job yet: the occurrence waits (becomes the schedule's buffered one) and is recorded as such.</summary>
    public sealed record Buffer(DateTimeOffset Occurrence, string Kind, string Reason) : ScheduleStep(Occurrence, Kind);
}

/// <summary>What the overlap policy looks at: the schedule's latest job and whether an occurrence already waits.</summary>
/// <param name="PreviousJobId">The schedule's latest job, if any.</param>
/// <param name="PreviousRunning">Whether that job has not finished (false when unknown or gone).</param>
/// <param name="Buffered">The occurrence waiting for it, if any.</param>
public sealed record OverlapFacts(string? PreviousJobId, bool PreviousRunning, DateTimeOffset? Buffered)
{
    /// <summary>The facts of <paramref name="state"/> with its latest job in <paramref name="previousStatus"/> (null: unknown, none or gone).</summary>
    public static OverlapFacts Of(ScheduleState state, JobStatus? previousStatus)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new(state.LastJobId, state.LastJobId is not null && previousStatus is { } s && !s.IsTerminal(), state.Buffered);
    }
}

/// <summary>The plan for the occurrences due now.</summary>
/// <param name="ReleaseBuffered">The buffered occurrence's wait is over: clear it before the steps (its step comes first).</param>
/// <param name="Candidates">The occurrences handled, in order, one per step.</param>
/// <param name="Steps">What to do with each of <paramref name="Candidates"/>.</param>
/// <param name="LastOccurrence">The schedule's new <see cref="ScheduleState.LastOccurrence"/>, or null to leave it.</param>
/// <param name="Missed">Missed occurrences run and skipped by the misfire policy (for metrics), or null when nothing was due.</param>
/// <param name="WakeAt">When to look again after the steps (as planned), or null when nothing can ever fire again.</param>
public sealed record ScheduleDecision(
    bool ReleaseBuffered,
    IReadOnlyList<ScheduleCandidate> Candidates,
    IReadOnlyList<ScheduleStep> Steps,
    DateTimeOffset? LastOccurrence,
    (int Run, int Skipped)? Missed,
    DateTimeOffset? WakeAt)
{
    /// <summary>Whether the schedule's state changes, so needs writing.</summary>
    public bool Changed => ReleaseBuffered || LastOccurrence is not null;
}

/// <summary>
/// The schedule's policies as a pure function of its state, the clock, each occurrence's jitter and the status of its
/// previous job: which occurrences are due (misfire policy within the catch-up window), which of them are enqueued,
/// skipped or buffered (overlap policy), when each job starts (jitter) and when to look again. No I/O: the grain
/// gathers the facts, asks, and carries the steps out.
/// </summary>
/// <remarks>
/// A job enqueued by an earlier step of the same plan counts as unfinished for the later ones (it was enqueued a moment
/// ago). When carrying out a step shows otherwise (the job could not be made, or already existed and has finished),
/// the grain asks <see cref="Resolve"/> again for the remaining candidates with what it now knows.
/// </remarks>
public static class ScheduleDecider
{
    /// <summary>An occurrence fired at most this late counts as on time; a later one was missed (misfire policy).</summary>
    public static readonly TimeSpan MisfireGrace = TimeSpan.FromSeconds(1);

    /// <summary>Most occurrences one decision (or one backfill) handles.</summary>
    public const int MaxOccurrences = 1000;

    /// <summary>Runs a schedule keeps, newest first; so also the most skipped misfires worth recording.</summary>
    public const int RunsKept = 20;

    // Longest a timer waits before the grain looks again (far occurrences, and Orleans' timer limit).
    internal static readonly TimeSpan LongestWait = TimeSpan.FromMinutes(10);

    // How often a buffered occurrence looks again for the job it waits for.
    internal static readonly TimeSpan BufferedPoll = TimeSpan.FromSeconds(1);

    /// <summary>What to fire at <paramref name="now"/> for the live, unpaused schedule.</summary>
    /// <param name="id">The schedule id (occurrence job ids derive from it).</param>
    /// <param name="state">The schedule as stored.</param>
    /// <param name="spec">Its recurrence.</param>
    /// <param name="now">The clock.</param>
    /// <param name="jitter">The delay of each occurrence's job (fixed per occurrence, see <see cref="ScheduleSpec.JitterFor"/>).</param>
    /// <param name="previousStatus">The status of <see cref="ScheduleState.LastJobId"/>'s job; null when unknown, none or gone.</param>
    public static ScheduleDecision Decide(
        string id, ScheduleState state, ScheduleSpec spec, DateTimeOffset now, Func<DateTimeOffset, TimeSpan> jitter, JobStatus? previousStatus)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(spec);
        var facts = OverlapFacts.Of(state, previousStatus);
        var candidates = new List<ScheduleCandidate>();

        // A buffered occurrence runs once the job it waited for has finished.
        var release = state.Buffered is { } buffered && !facts.PreviousRunning;
        if (release)
        {
            candidates.Add(new(state.Buffered!.Value, "buffered", CandidateRule.BypassOverlap));
            facts = facts with { Buffered = null };
        }

        DateTimeOffset? last = null;
        (int, int)? missedCounts = null;
        var after = state.LastOccurrence ?? state.CreatedAt;
        if (spec.Next(after) is { } first && first <= now)
        {
            // Only the occurrences inside the catch-up window can matter, and of those at most the newest 1,000.
            var windowStart = Max(after, now - state.Definition.CatchUpWindow - MisfireGrace);
            var due = spec.LatestBetween(windowStart, now, MaxOccurrences);
            var missed = due.Where(o => now - o > MisfireGrace).ToList();
            var onTime = due.Where(o => now - o <= MisfireGrace).ToList();
            var fire = state.Definition.Misfire switch
            {
                MisfirePolicy.RunAll => missed,
                MisfirePolicy.RunOnce => missed.Count > 0 ? [missed[^1]] : [],
                MisfirePolicy.Skip => [],
                _ => throw new ArgumentOutOfRangeException(nameof(state), state.Definition.Misfire, "Not a misfire policy."),
            };
            missedCounts = (fire.Count, missed.Count - fire.Count);
            var reason = $"missed while no silo could fire it (misfire: {state.Definition.Misfire})";
            candidates.AddRange(missed.Except(fire).TakeLast(RunsKept).Select(o => new ScheduleCandidate(o, "catchUp", CandidateRule.Missed, reason)));
            candidates.AddRange(fire.Select(o => new ScheduleCandidate(o, "catchUp", CandidateRule.FollowOverlap)));
            candidates.AddRange(onTime.Select(o => new ScheduleCandidate(o, "scheduled", CandidateRule.FollowOverlap)));

            // Everything up to now is handled, fired or not: never again (what lay before the window is let go).
            last = due.Count > 0 ? Max(due[^1], after) : now;
        }

        var steps = Resolve(id, state.Definition.Overlap, candidates, facts, now, jitter);
        var planned = state with
        {
            LastOccurrence = last ?? state.LastOccurrence,
            Buffered = steps.OfType<ScheduleStep.Buffer>().Select(b => (DateTimeOffset?)b.Occurrence).LastOrDefault() ?? facts.Buffered,
        };
        return new(release, candidates, steps, last, missedCounts, WakeAt(planned, spec, now));
    }

    /// <summary>
    /// The overlap policy over <paramref name="candidates"/> in order, starting from <paramref name="facts"/>; one
    /// step per candidate. A step that enqueues makes its job the previous one, unfinished, for the candidates after it.
    /// </summary>
    public static IReadOnlyList<ScheduleStep> Resolve(
        string id, OverlapPolicy overlap, IReadOnlyList<ScheduleCandidate> candidates, OverlapFacts facts, DateTimeOffset now, Func<DateTimeOffset, TimeSpan> jitter)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(jitter);
        if (!Enum.IsDefined(overlap))
        {
            throw new ArgumentOutOfRangeException(nameof(overlap), overlap, "Not an overlap policy.");
        }

        var steps = new List<ScheduleStep>(candidates.Count);
        foreach (var candidate in candidates)
        {
            var (step, next) = Step(id, overlap, candidate, facts, now, jitter);
            steps.Add(step);
            facts = next;
        }

        return steps;
    }

    /// <summary>Whether the overlap policy needs the previous job's status at all (asking costs a grain call).</summary>
    public static bool OverlapMatters(ScheduleState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.LastJobId is not null && state.Definition.Overlap != OverlapPolicy.Allow;
    }

    /// <summary>Whether <see cref="Decide"/> at <paramref name="now"/> needs the previous job's status: an occurrence waits for it, or one is due under a policy that looks at it.</summary>
    public static bool NeedsPreviousStatus(ScheduleState state, ScheduleSpec spec, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(spec);
        return state.LastJobId is not null
            && (state.Buffered is not null || (OverlapMatters(state) && spec.Next(state.LastOccurrence ?? state.CreatedAt) is { } first && first <= now));
    }

    /// <summary>
    /// When to look again: the next occurrence, soon while one is buffered, at most <see cref="LongestWait"/> away and
    /// at least <paramref name="minimumWait"/>; null when the schedule is paused, deleted or can never fire again.
    /// </summary>
    public static DateTimeOffset? WakeAt(ScheduleState? state, ScheduleSpec spec, DateTimeOffset now, TimeSpan minimumWait = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (state is not { Paused: false, Deleted: false } || Finished(state, spec))
        {
            return null;
        }

        var next = spec.Next(Max(state.LastOccurrence ?? state.CreatedAt, state.CreatedAt));
        var wait = next is { } n ? n - now : LongestWait;
        if (state.Buffered is not null && wait > BufferedPoll)
        {
            // Look again soon for the job the buffered occurrence waits for.
            wait = BufferedPoll;
        }

        wait = wait < minimumWait ? minimumWait : wait > LongestWait ? LongestWait : wait;
        return now + wait;
    }

    /// <summary>Past <c>endAt</c> with nothing waiting: no tick will ever find work again.</summary>
    public static bool Finished(ScheduleState state, ScheduleSpec spec)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(spec);
        return state.Buffered is null && spec.Next(Max(state.LastOccurrence ?? state.CreatedAt, state.CreatedAt)) is null;
    }

    private static (ScheduleStep Step, OverlapFacts Next) Step(
        string id, OverlapPolicy overlap, ScheduleCandidate candidate, OverlapFacts facts, DateTimeOffset now, Func<DateTimeOffset, TimeSpan> jitter)
    {
        var (occurrence, kind) = (candidate.Occurrence, candidate.Kind);
        if (candidate.Rule == CandidateRule.Missed)
        {
            return (new ScheduleStep.Skip(occurrence, kind, candidate.Reason ?? "missed"), facts);
        }

        string? cancel = null;
        if (candidate.Rule == CandidateRule.FollowOverlap && overlap != OverlapPolicy.Allow && facts is { PreviousJobId: { } previous, PreviousRunning: true })
        {
            switch (overlap)
            {
                case OverlapPolicy.Skip:
                    return (new ScheduleStep.Skip(occurrence, kind, $"overlap: the previous job {previous} has not finished"), facts);
                case OverlapPolicy.BufferOne when facts.Buffered is null:
                    return (new ScheduleStep.Buffer(occurrence, kind, $"buffered: runs when {previous} finishes"), facts with { Buffered = occurrence });
                case OverlapPolicy.BufferOne:
                    return (new ScheduleStep.Skip(occurrence, kind, "overlap: an occurrence is already buffered"), facts);
                case OverlapPolicy.CancelOther:
                    cancel = previous;
                    break;
            }
        }

        var jobId = ScheduleId.JobIdFor(id, occurrence);
        var runAt = occurrence + jitter(occurrence);
        return (new ScheduleStep.Enqueue(occurrence, kind, jobId, runAt > now ? runAt : null, cancel), facts with { PreviousJobId = jobId, PreviousRunning = true });
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
