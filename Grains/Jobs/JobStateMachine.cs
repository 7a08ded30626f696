namespace OrleansTasks.Jobs;

/// <summary>Something that happened to a job; the input of <see cref="JobStateMachine.Apply"/>.</summary>
public abstract record JobEvent(DateTimeOffset Now)
{
    /// <summary>A new job passed validation. <paramref name="Slot"/>: a worker slot on this silo is already held for it.</summary>
    public sealed record Enqueued(DateTimeOffset Now, string Type, string PayloadJson, JobPolicy Policy, DateTimeOffset RunAt,
        bool Slot, string Silo) : JobEvent(Now)
    {
        /// <summary>Where the outcome is POSTed when the job finishes; null for none.</summary>
        public string? CallbackUrl { get; init; }

        /// <summary>The W3C <c>traceparent</c> of the enqueue, when it was traced (<see cref="JobState.TraceParent"/>).</summary>
        public string? TraceParent { get; init; }

        /// <summary>When the first attempt must have started (<see cref="JobState.StartBy"/>); null for no limit.</summary>
        public DateTimeOffset? StartBy { get; init; }

        /// <summary>The job option <c>maxAge</c> (<see cref="JobState.MaxAge"/>).</summary>
        public TimeSpan? MaxAge { get; init; }
    }

    /// <summary>A scheduled or retrying job's time has come (its wake-up fired or its in-memory wait ended).</summary>
    public sealed record Due(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>This silo gave a queued job a worker slot: its next attempt begins.</summary>
    public sealed record SlotAcquired(DateTimeOffset Now, string Silo) : JobEvent(Now);

    /// <summary>
    /// The attempt this activation began has ended. <paramref name="Jitter"/> in [0, 1) places the retry inside its
    /// backoff window (<see cref="Backoff.Delay"/>).
    /// </summary>
    public sealed record AttemptFinished(DateTimeOffset Now, AttemptResult Result, double Jitter) : JobEvent(Now)
    {
        /// <summary>Progress the handler reported that was not stored yet (throttled): stored with the outcome.</summary>
        public JobProgress? Progress { get; init; }
    }

    /// <summary>
    /// The handler of attempt <paramref name="Attempt"/> (its number in the history) reported progress. Stored only
    /// while that attempt still runs uncancelled: a report from a stale attempt changes nothing.
    /// </summary>
    public sealed record ProgressReported(DateTimeOffset Now, int Attempt, JobProgress Progress) : JobEvent(Now);

    /// <summary>The job is stored as running, but no activation of it is running an attempt: its silo died mid-attempt.</summary>
    public sealed record Interrupted(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>The silo is stopping gracefully while the job waits for a slot or for its time.</summary>
    public sealed record HandedOff(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>The job's type has no handler on this silo (a rolling deploy): another silo must run it.</summary>
    public sealed record NotRunnableHere(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>The durable wake-up ticked. The executor decides on a freshly read state whether a record exists.</summary>
    public sealed record WakeUp(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>
    /// A client asked to cancel the job. A waiting job is cancelled at once; a running one is marked, durably, and
    /// becomes cancelled when its attempt ends (the handler's token fires).
    /// </summary>
    public sealed record CancelRequested(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>A client asked to run a finished job again, as a new round with a fresh attempt budget.</summary>
    public sealed record Requeued(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>A client asked to delete a finished job: its state goes and its id is free again.</summary>
    public sealed record Deleted(DateTimeOffset Now) : JobEvent(Now);

    /// <summary>
    /// A call found the job (a query, a command, a repeat enqueue). A finished job whose retention has ended
    /// (<see cref="JobFacts.RetentionEndsAt"/>) and that nothing in memory still holds is gone: its state is removed and
    /// its id is free again, whether or not the sweeper has reached it in storage. The activation stays, so the call
    /// carries on in it (an enqueue reusing the id).
    /// </summary>
    public sealed record Looked(DateTimeOffset Now) : JobEvent(Now);
}

/// <summary>A durable or in-memory step the executor (<see cref="JobGrain"/>) carries out, in the order given.</summary>
public abstract record JobEffect
{
    /// <summary>Store <see cref="JobTransition.Next"/> exactly as the machine returned it (a compare-and-swap on the etag).</summary>
    public static JobEffect WriteState { get; } = new Write();

    /// <summary>Remove the durable wake-up (best effort: a tick on a terminal or missing job removes it again).</summary>
    public static JobEffect ClearWakeUp { get; } = new Clear();

    /// <summary>Let the activation go once idle: nothing is left for it to do in memory.</summary>
    public static JobEffect Deactivate { get; } = new Drop();

    /// <summary>Remove the stored state (the key itself, so the id is free again).</summary>
    public static JobEffect ClearState { get; } = new Erase();

    /// <summary>Move the activation to a silo that can run the job's type, or let it go when no such silo is up.</summary>
    public static JobEffect Relocate { get; } = new Move();

    /// <summary>Register or move the durable wake-up to fire <paramref name="DueIn"/> from now, then every recovery interval.</summary>
    public sealed record SetWakeUp(TimeSpan DueIn) : JobEffect;

    /// <summary>
    /// Enqueue the finished round's webhook delivery job (idempotent by its id), then clear the wake-up; when it cannot
    /// be enqueued, move the wake-up to fire <paramref name="KeepWakeUpIn"/> from now instead (a cancelled retry's
    /// wake-up may be due days ahead), so its tick enqueues the delivery. Comes after the terminal write: a crash in
    /// between leaves the wake-up, whose tick enqueues it again.
    /// </summary>
    public sealed record DeliverCallback(TimeSpan KeepWakeUpIn) : JobEffect;

    private sealed record Write : JobEffect;

    private sealed record Clear : JobEffect;

    private sealed record Drop : JobEffect;

    private sealed record Move : JobEffect;

    private sealed record Erase : JobEffect;
}

/// <summary>What the machine answers: a transition, or a refusal the caller reports.</summary>
public abstract record JobDecision;

/// <summary>The next state (null: no record) and the effects that make it so. What is stored is exactly <paramref name="Next"/>.</summary>
public sealed record JobTransition(JobState? Next, IReadOnlyList<JobEffect> Effects) : JobDecision;

/// <summary>Why an event was refused: data, not an error. The API maps it to its problem (404, 409) or answer.</summary>
public enum JobRefusalReason
{
    /// <summary>No job has this id.</summary>
    NotFound,

    /// <summary>The job's state does not allow it (finished, not finished, a handler still runs, another payload).</summary>
    Conflict,

    /// <summary>A repeat enqueue of the same job: nothing to create, the stored job is the answer.</summary>
    Exists,

    /// <summary>The job moved on before a step of its pump was applied (cancelled while it waited): decide again.</summary>
    Moved,
}

/// <summary>The event was refused; nothing changes. <paramref name="Detail"/> is one sentence for the caller.</summary>
public sealed record JobRefusal(JobRefusalReason Reason, string Detail) : JobDecision;

/// <summary>Thrown for an event that cannot happen in the job's state: a bug in the executor, never caught to branch.</summary>
public sealed class InvalidJobTransitionException(string message) : InvalidOperationException(message);

/// <summary>
/// What the executor knows in memory when it decides, beside the stored state and the event: everything a decision
/// depends on comes in here, so every decision is a pure function of (state, event, facts).
/// </summary>
/// <remarks>A value, not an object: the executor builds one for every decision, several per job.</remarks>
public readonly record struct JobFacts
{
    /// <summary>Facts with the documented defaults.</summary>
    public JobFacts()
    {
    }

    /// <summary>The job's id (for the sentences of refusals).</summary>
    public required string JobId { get; init; }

    /// <summary>Period of a durable wake-up (<see cref="JobsOptions.RecoveryInterval"/>), and its due time for a running job that has a webhook.</summary>
    public TimeSpan RecoveryInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a cancelled handler has to return (<see cref="JobsOptions.CancelGrace"/>).</summary>
    public TimeSpan CancelGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A wait for the job's time at most this long is kept in memory; a longer one lets the activation go.</summary>
    public TimeSpan KeepWarmLimit { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>This activation holds a worker slot for the attempt it began.</summary>
    public bool SlotHeld { get; init; }

    /// <summary>A handler of an earlier attempt of this job ignored its token and still runs here.</summary>
    public bool PreviousHandlerRunning { get; init; }

    /// <summary>This activation's pump is moving the job (running an attempt or waiting for one).</summary>
    public bool Pumping { get; init; }

    /// <summary>This silo registers the job's type.</summary>
    public bool RunnableHere { get; init; } = true;

    /// <summary>Another live silo registers the job's type.</summary>
    public bool RunnableElsewhere { get; init; }

    /// <summary>For a repeat enqueue: its type and payload equal the stored job's (payloads compared canonically).</summary>
    public bool SameJob { get; init; }

    /// <summary>When the finished job's retention ends (<see cref="JobRetention.ExpiresAt"/>); null while it runs or when kept for ever.</summary>
    public DateTimeOffset? RetentionEndsAt { get; init; }

    /// <summary>This silo (as attempts record it).</summary>
    public string Silo { get; init; } = "";

    /// <summary>This silo's worker slots in use now.</summary>
    public int SlotsUsed { get; init; }

    /// <summary>This silo's worker slots in all.</summary>
    public int SlotsTotal { get; init; }
}

/// <summary>What the pump does next (<see cref="JobStateMachine.NextStep"/>).</summary>
public abstract record JobStep
{
    /// <summary>Nothing more to do in memory: the pump ends.</summary>
    public static JobStep Stop { get; } = new Done();

    /// <summary>The job waits for a time beyond <see cref="JobFacts.KeepWarmLimit"/>: let the activation go; its wake-up brings it back.</summary>
    public static JobStep Rest { get; } = new Sleep();

    /// <summary>Run the begun (stored) attempt in the slot this activation holds.</summary>
    public static JobStep RunAttempt { get; } = new Run();

    /// <summary>Wait for a worker slot, then apply <see cref="JobEvent.SlotAcquired"/>.</summary>
    public static JobStep AcquireSlot { get; } = new Slot();

    /// <summary>Wait until the previous attempt's handler, which ignored its token, ends.</summary>
    public static JobStep AwaitPreviousHandler { get; } = new Previous();

    /// <summary>Apply <paramref name="Event"/> now.</summary>
    public sealed record Apply(JobEvent Event) : JobStep;

    /// <summary>Wait in memory until <paramref name="Until"/>, then decide again.</summary>
    public sealed record WaitUntil(DateTimeOffset Until) : JobStep;

    private sealed record Done : JobStep;

    private sealed record Sleep : JobStep;

    private sealed record Run : JobStep;

    private sealed record Slot : JobStep;

    private sealed record Previous : JobStep;
}

/// <summary>
/// The job's life as pure functions: (stored state, event, facts) → transition or refusal; (state, facts) → the pump's
/// next step and why the job waits. No I/O, no clock, no randomness: everything comes in with the event and the facts,
/// so every case is unit-tested without a cluster and <see cref="JobGrain"/> only gathers facts and executes effects.
/// </summary>
/// <remarks>
/// Durability: a queued or running job needs no wake-up of its own — the cluster's recovery sweeper
/// (<see cref="JobRecoveryGrain"/>) calls every stored queued and running job each recovery interval, so one whose
/// silo died is activated elsewhere and resumes. A job waiting for a time (scheduled, retrying) has a wake-up, stored
/// before the state that needs it (a wake-up without state removes itself on its first tick; a waiting state without
/// a wake-up is a job nobody runs after a crash). So does a running job with a completion webhook: a finished job
/// stores its state, enqueues the delivery, then clears the wake-up, so a crash in between leaves a tick that
/// enqueues the delivery again. Attempts are counted when they begin, so a crash mid-attempt uses up a retry and a
/// job that kills its silo cannot loop for ever. Why reminders are not kept per job: docs/design.md.
/// </remarks>
public static class JobStateMachine
{
    /// <summary>How soon a handed-off job is woken on another silo.</summary>
    public static readonly TimeSpan HandOffWakeUp = TimeSpan.FromSeconds(1);

    private static readonly JobError CancelledError = new("Cancelled", "The job was cancelled.");

    private static readonly JobError InterruptedError =
        new("AttemptInterrupted", "The silo running this attempt stopped before the attempt reported back.");

    private static readonly JobTransition Unchanged = new(null, []);

    private static JobError ExpiredError(DateTimeOffset by) =>
        new("Expired", $"The job did not start by {by:o} (its startBy or maxAge); it was not run.");

    /// <summary>The decision for an event in a state.</summary>
    /// <param name="state">The stored state; null when no job is stored under this id.</param>
    /// <param name="e">What happened.</param>
    /// <param name="facts">What the executor knows in memory.</param>
    /// <exception cref="InvalidJobTransitionException">The event cannot happen in this state (a bug in the executor).</exception>
    public static JobDecision Apply(JobState? state, JobEvent e, JobFacts facts)
    {
        ArgumentNullException.ThrowIfNull(e);
        var decision = Decide(state, e, facts);

        // Every stored transition is one version further: the id of the job's live events.
        return decision is JobTransition { Next: { } next } t && t.Effects.Contains(JobEffect.WriteState)
            ? t with { Next = next with { Version = (state?.Version ?? 0) + 1 } }
            : decision;
    }

    private static JobDecision Decide(JobState? state, JobEvent e, JobFacts facts) => (state, e) switch
    {
        (null, JobEvent.Enqueued enqueued) => Enqueue(enqueued, facts),
        ({ }, JobEvent.Enqueued) when facts.SameJob => new JobRefusal(JobRefusalReason.Exists, $"Job '{facts.JobId}' already exists."),
        ({ }, JobEvent.Enqueued) => new JobRefusal(JobRefusalReason.Conflict, $"Job '{facts.JobId}' already exists with a different type or payload."),

        (null, JobEvent.WakeUp) => new JobTransition(null, [JobEffect.ClearWakeUp, JobEffect.Deactivate]),
        ({ Status: var s }, JobEvent.WakeUp) when s.IsTerminal() => new JobTransition(state, [ClearOrDeliver(state, facts), JobEffect.Deactivate]),
        ({ }, JobEvent.WakeUp) => Same(state),

        (null, JobEvent.Looked) => Unchanged,
        ({ Status: var s }, JobEvent.Looked) when s.IsTerminal() && !facts.Pumping && !facts.PreviousHandlerRunning
            && facts.RetentionEndsAt is { } ends && ends <= e.Now => new JobTransition(null, [JobEffect.ClearState]),
        ({ }, JobEvent.Looked) => Same(state),

        ({ Status: JobStatus.Scheduled or JobStatus.Retrying }, JobEvent.Due due) when state.NextAttemptAt is { } at && at > due.Now =>
            throw new InvalidJobTransitionException($"The job is not due before {at:o}."),
        ({ Status: JobStatus.Scheduled or JobStatus.Retrying }, JobEvent.Due) =>
            // Not stored: the "running" write that follows is, and until then the stored due state resumes the same way.
            new JobTransition(state with { Status = JobStatus.Queued }, []),
        ({ }, JobEvent.Due) => Moved(state, e),

        // Stale work is not run: checked when the round's first attempt would take its slot.
        ({ Status: JobStatus.Queued, Attempts: 0, StartBy: { } by }, JobEvent.SlotAcquired slot) when slot.Now > by =>
            Terminal(state with { LastError = ExpiredError(by) }, JobStatus.Cancelled, slot.Now, facts),
        ({ Status: JobStatus.Queued }, JobEvent.SlotAcquired slot) => new JobTransition(BeginAttempt(state, slot.Now, slot.Silo), [JobEffect.WriteState]),
        ({ }, JobEvent.SlotAcquired) => Moved(state, e),

        ({ Status: JobStatus.Running }, JobEvent.AttemptFinished finished) when state.History is [.., { Outcome: AttemptOutcome.Running }] =>
            Finish(finished.Progress is { } last && state.CancelRequestedAt is null ? state with { Progress = last } : state, finished, facts),

        ({ Status: JobStatus.Running, CancelRequestedAt: null }, JobEvent.ProgressReported p)
            when state.History is [.., { Outcome: AttemptOutcome.Running } running] && running.Number == p.Attempt =>
            new JobTransition(state with { Progress = p.Progress }, [JobEffect.WriteState]),
        ({ }, JobEvent.ProgressReported) => Same(state),

        // A cancel asked for before the crash stands: the job never comes back.
        ({ Status: JobStatus.Running, CancelRequestedAt: not null }, JobEvent.Interrupted interrupted) => Terminal(
            state with { History = CloseLast(state.History, interrupted.Now, AttemptOutcome.Cancelled, CancelledError) },
            JobStatus.Cancelled, interrupted.Now, facts),

        ({ Status: JobStatus.Running }, JobEvent.Interrupted interrupted) => Fail(
            state with { History = CloseLast(state.History, interrupted.Now, AttemptOutcome.Interrupted, InterruptedError) },
            InterruptedError, permanent: false, retryAt: interrupted.Now, interrupted.Now, facts),

        // Waiting for a slot: wake up elsewhere now instead of at the next recovery sweep. Jobs waiting for their
        // time keep their wake-up.
        ({ Status: JobStatus.Queued }, JobEvent.HandedOff) => new JobTransition(state, [new JobEffect.SetWakeUp(HandOffWakeUp)]),
        ({ Status: JobStatus.Scheduled or JobStatus.Retrying }, JobEvent.HandedOff) => Same(state),

        // Another silo must run it; nothing is counted, and in case no such silo is up the recovery sweeper
        // (queued) or its wake-up (scheduled, retrying) tries again.
        ({ Status: JobStatus.Queued or JobStatus.Scheduled or JobStatus.Retrying }, JobEvent.NotRunnableHere) =>
            new JobTransition(state, [JobEffect.Relocate]),

        (null, JobEvent.CancelRequested or JobEvent.Requeued or JobEvent.Deleted) =>
            new JobRefusal(JobRefusalReason.NotFound, $"No job has the id '{facts.JobId}'."),

        ({ Status: JobStatus.Scheduled or JobStatus.Queued or JobStatus.Retrying }, JobEvent.CancelRequested cancel) =>
            Terminal(state with { CancelRequestedAt = cancel.Now, LastError = CancelledError }, JobStatus.Cancelled, cancel.Now, facts),
        ({ Status: JobStatus.Running, CancelRequestedAt: null }, JobEvent.CancelRequested cancel) =>
            new JobTransition(state with { CancelRequestedAt = cancel.Now }, [JobEffect.WriteState]),
        ({ Status: JobStatus.Running or JobStatus.Cancelled }, JobEvent.CancelRequested) => Same(state),
        ({ Status: JobStatus.Succeeded or JobStatus.Failed }, JobEvent.CancelRequested) => new JobRefusal(JobRefusalReason.Conflict,
            $"Job '{facts.JobId}' already {state.Status.ToWireName()}; only a waiting or running job can be cancelled."),

        ({ }, JobEvent.Requeued or JobEvent.Deleted) when RefuseUnlessFinished(state, e, facts) is { } refused => refused,
        ({ }, JobEvent.Requeued requeued) => new JobTransition(
            state with
            {
                Status = JobStatus.Queued,
                Round = state.Round + 1,
                Attempts = 0,
                NextAttemptAt = requeued.Now,
                FinishedAt = null,
                ResultJson = null,
                CancelRequestedAt = null,
                Progress = null,
                StartBy = state.MaxAge is { } maxAge ? requeued.Now + maxAge : null,
            },
            [.. WakeUpForCallback(state, facts), JobEffect.WriteState]),
        ({ }, JobEvent.Deleted) => new JobTransition(null, [JobEffect.ClearState, JobEffect.ClearWakeUp, JobEffect.Deactivate]),

        _ => throw new InvalidJobTransitionException(
            $"{e.GetType().Name} cannot happen to a job that is {(state is null ? "not stored" : state.Status.ToWireName())}."),
    };

    /// <summary>What the pump does next for the job in <paramref name="state"/>.</summary>
    public static JobStep NextStep(JobState? state, JobFacts facts, DateTimeOffset now)
    {
        return state switch
        {
            null => JobStep.Stop,

            // Runs even when the silo is stopping, so the begun attempt is recorded as handed off rather than left
            // "running" for a recovery sweep to count as interrupted.
            { Status: JobStatus.Running } when facts.SlotHeld => JobStep.RunAttempt,

            // Stored as running, yet this activation never began it: the silo that ran it died mid-attempt.
            { Status: JobStatus.Running } => new JobStep.Apply(new JobEvent.Interrupted(now)),

            { Status: JobStatus.Scheduled or JobStatus.Retrying, NextAttemptAt: { } due } when due - now > facts.KeepWarmLimit && !facts.PreviousHandlerRunning =>
                JobStep.Rest,

            // Timers may fire a little early; never start before the promised time.
            { Status: JobStatus.Scheduled or JobStatus.Retrying, NextAttemptAt: { } due } when due > now => new JobStep.WaitUntil(due),
            { Status: JobStatus.Scheduled or JobStatus.Retrying } => new JobStep.Apply(new JobEvent.Due(now)),

            { Status: JobStatus.Queued } when !facts.RunnableHere => new JobStep.Apply(new JobEvent.NotRunnableHere(now)),

            // Never run an attempt beside the previous one's handler that still runs.
            { Status: JobStatus.Queued } when facts.PreviousHandlerRunning => JobStep.AwaitPreviousHandler,
            { Status: JobStatus.Queued } => JobStep.AcquireSlot,

            _ => JobStep.Stop,
        };
    }

    /// <summary>Whether the job needs a pump in this activation now (false: it is finished, or due far ahead).</summary>
    public static bool NeedsPump(JobState? state, JobFacts facts, DateTimeOffset now) =>
        NextStep(state, facts, now) is var step && step != JobStep.Stop && step != JobStep.Rest;

    /// <summary>Why the job is not running now; null for a running job without a pending cancel and for a finished job.</summary>
    public static JobWaitingFor? WaitingFor(JobState? state, JobFacts facts, DateTimeOffset now)
    {

        // A job whose time has come waits for what a queued one waits for, whether or not "queued" is stored yet.
        if (state is { Status: JobStatus.Scheduled or JobStatus.Retrying, NextAttemptAt: var at } && (at is null || at <= now))
        {
            state = state with { Status = JobStatus.Queued };
        }

        return state switch
        {
            { Status: JobStatus.Running, CancelRequestedAt: { } asked } => new(JobWaitingReasons.CancelPending,
                $"A cancel was requested at {asked:o}; the handler has until the cancel grace ends to return, then the job is cancelled.",
                asked + facts.CancelGrace),
            { Status: JobStatus.Scheduled } s => new(JobWaitingReasons.RunAt, $"The job is scheduled to run at {s.NextAttemptAt:o}.", s.NextAttemptAt),
            { Status: JobStatus.Retrying } r => new(JobWaitingReasons.RetryBackoff,
                $"Attempt {r.Attempts} failed ({r.LastError?.Type ?? "unknown error"}); the next attempt is due at {r.NextAttemptAt:o}.", r.NextAttemptAt),
            { Status: JobStatus.Queued } when facts.PreviousHandlerRunning => new(JobWaitingReasons.PreviousHandlerRunning,
                "A handler of an earlier attempt of this job ignored its cancellation and still runs; the next attempt waits for it to end.", null),
            { Status: JobStatus.Queued } when !facts.RunnableHere && !facts.RunnableElsewhere => new(JobWaitingReasons.NoSiloForType,
                $"No live silo registers the job type '{state.Type}'; the job runs once a silo that has it joins.", null),
            { Status: JobStatus.Queued } when !facts.RunnableHere => new(JobWaitingReasons.WorkerSlot,
                $"The job is moving to a silo that registers the job type '{state.Type}'.", null),
            { Status: JobStatus.Queued } => new(JobWaitingReasons.WorkerSlot,
                $"The job waits for a worker slot on {facts.Silo} ({facts.SlotsUsed} of {facts.SlotsTotal} in use).", null)
            {
                Silo = facts.Silo,
                SlotsUsed = facts.SlotsUsed,
                SlotsTotal = facts.SlotsTotal,
            },
            _ => null,
        };
    }

    private static JobTransition Same(JobState state) => new(state, []);

    private static JobRefusal Moved(JobState state, JobEvent e) =>
        new(JobRefusalReason.Moved, $"{e.GetType().Name} no longer applies: the job is {state.Status.ToWireName()} now.");

    private static JobRefusal? RefuseUnlessFinished(JobState state, JobEvent e, JobFacts facts)
    {
        var what = e is JobEvent.Requeued ? "requeued" : "deleted";
        if (!state.Status.IsTerminal())
        {
            return new(JobRefusalReason.Conflict,
                $"Job '{facts.JobId}' is {state.Status.ToWireName()}; only a finished job can be {what} (cancel it first).");
        }

        return facts.PreviousHandlerRunning
            ? new(JobRefusalReason.Conflict,
                $"Job '{facts.JobId}' was cancelled or timed out but its handler still runs (it ignored its token); it can be {what} once the handler ends.")
            : null;
    }

    private static JobTransition Enqueue(JobEvent.Enqueued e, JobFacts facts)
    {
        var delayed = e.RunAt > e.Now;
        if (delayed && e.Slot)
        {
            throw new InvalidJobTransitionException("A delayed job cannot take a worker slot at enqueue.");
        }

        var state = new JobState
        {
            Type = e.Type,
            PayloadJson = e.PayloadJson,
            Policy = e.Policy,
            Status = delayed ? JobStatus.Scheduled : JobStatus.Queued,
            CreatedAt = e.Now,
            ScheduledFor = e.RunAt,
            NextAttemptAt = e.RunAt,
            CallbackUrl = e.CallbackUrl,
            TraceParent = e.TraceParent,
            StartBy = e.StartBy,
            MaxAge = e.MaxAge,
        };

        // A slot already held lets the first attempt begin in this same write, saving a separate "queued" write.
        if (e.Slot)
        {
            state = BeginAttempt(state, e.Now, e.Silo);
        }

        // Waiting for its time: woken by its own reminder. Due now: the recovery sweeper covers it (and a wake-up
        // covers its webhook).
        return new(state, delayed
            ? [new JobEffect.SetWakeUp(e.RunAt - e.Now), JobEffect.WriteState]
            : [.. WakeUpForCallback(state, facts), JobEffect.WriteState]);
    }

    private static JobState BeginAttempt(JobState state, DateTimeOffset now, string silo) => state with
    {
        Status = JobStatus.Running,
        Attempts = state.Attempts + 1,
        History = [.. state.History, new JobAttempt(state.History.Count + 1, now, null, AttemptOutcome.Running, null, silo) { Round = state.Round }],
        StartedAt = state.StartedAt ?? now,
        NextAttemptAt = null,
    };

    private static JobTransition Finish(JobState state, JobEvent.AttemptFinished e, JobFacts facts)
    {
        var result = e.Result;
        if (state.CancelRequestedAt is not null || result.Outcome == AttemptOutcome.Cancelled)
        {
            // Whatever the handler did once its cancel was asked for, its result is discarded.
            return Terminal(
                state with { History = CloseLast(state.History, e.Now, AttemptOutcome.Cancelled, CancelledError), LastError = CancelledError },
                JobStatus.Cancelled, e.Now, facts);
        }

        var history = CloseLast(state.History, e.Now, result.Outcome, result.Error);
        switch (result.Outcome)
        {
            case AttemptOutcome.Succeeded:
                return Terminal(state with { History = history, ResultJson = result.ResultJson }, JobStatus.Succeeded, e.Now, facts);

            case AttemptOutcome.HandedOff:
                // Not the job's fault: the attempt does not count, and the job is due again at once elsewhere.
                return new(
                    state with { History = history, Attempts = state.Attempts - 1, Status = JobStatus.Queued, NextAttemptAt = e.Now },
                    [JobEffect.WriteState, new JobEffect.SetWakeUp(HandOffWakeUp)]);

            case AttemptOutcome.Failed or AttemptOutcome.TimedOut:
                var error = result.Error ?? new JobError("Unknown", "The attempt failed without an error.");
                var retryAt = e.Now + Backoff.Delay(state.Attempts, state.Policy, e.Jitter);
                return Fail(state with { History = history }, error, result.Permanent, retryAt, e.Now, facts);

            default:
                throw new InvalidJobTransitionException($"An attempt cannot finish as {result.Outcome}.");
        }
    }

    /// <summary>Records a failed attempt: fails the job when it is permanent or out of attempts, else retries at <paramref name="retryAt"/>.</summary>
    private static JobTransition Fail(JobState state, JobError error, bool permanent, DateTimeOffset retryAt, DateTimeOffset now, JobFacts facts)
    {
        state = state with { LastError = error };
        if (permanent || state.Attempts > state.Policy.MaxRetries)
        {
            return Terminal(state, JobStatus.Failed, now, facts);
        }

        if (retryAt <= now)
        {
            // Re-run at once (an interrupted attempt: a backoff would not help); queued, the recovery sweeper covers it.
            return new(state with { Status = JobStatus.Queued, NextAttemptAt = now }, [JobEffect.WriteState]);
        }

        // The wake-up first: a crash in between leaves the job stored as running (the sweeper resumes it), never a
        // retrying job without a wake-up.
        return new(state with { Status = JobStatus.Retrying, NextAttemptAt = retryAt },
            [new JobEffect.SetWakeUp(retryAt - now), JobEffect.WriteState]);
    }

    private static JobTransition Terminal(JobState state, JobStatus status, DateTimeOffset now, JobFacts facts) => new(
        state with { Status = status, FinishedAt = now, NextAttemptAt = null },
        [JobEffect.WriteState, ClearOrDeliver(state, facts), JobEffect.Deactivate]);

    /// <summary>A finished job's wake-up goes, after its webhook delivery is enqueued when it has a callback.</summary>
    private static JobEffect ClearOrDeliver(JobState state, JobFacts facts) =>
        state.CallbackUrl is null ? JobEffect.ClearWakeUp : new JobEffect.DeliverCallback(facts.RecoveryInterval);

    /// <summary>The wake-up that keeps a runnable job's webhook delivery durable, for a job that has a callback.</summary>
    private static JobEffect[] WakeUpForCallback(JobState state, JobFacts facts) =>
        state.CallbackUrl is null ? [] : [new JobEffect.SetWakeUp(facts.RecoveryInterval)];

    private static IReadOnlyList<JobAttempt> CloseLast(IReadOnlyList<JobAttempt> history, DateTimeOffset now, AttemptOutcome outcome, JobError? error) =>
        history is [.., { Outcome: AttemptOutcome.Running } last]
            ? [.. history.Take(history.Count - 1), last with { FinishedAt = now, Outcome = outcome, Error = error }]
            : history;
}
