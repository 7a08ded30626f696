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
    /// A finished job's retention ended (seen by the job itself; the sweeper removes it in storage whether or not it
    /// is active): its state goes and its id is free again. The activation stays, so a call that found the job
    /// expired (an enqueue reusing the id) carries on in it.
    /// </summary>
    public sealed record Expired(DateTimeOffset Now) : JobEvent(Now);
}

/// <summary>A durable or in-memory step the executor (<see cref="JobGrain"/>) carries out, in the order given.</summary>
public abstract record JobEffect
{
    /// <summary>Store the new state (a compare-and-swap on the etag).</summary>
    public static JobEffect WriteState { get; } = new Write();

    /// <summary>Remove the durable wake-up (best effort: a tick on a terminal or missing job removes it again).</summary>
    public static JobEffect ClearWakeUp { get; } = new Clear();

    /// <summary>Let the activation go once idle: nothing is left for it to do in memory.</summary>
    public static JobEffect Deactivate { get; } = new Drop();

    /// <summary>Remove the stored state (the key itself, so the id is free again).</summary>
    public static JobEffect ClearState { get; } = new Erase();

    /// <summary>Move the activation to a silo that can run the job's type, or let it go when no such silo is up.</summary>
    public static JobEffect Relocate { get; } = new Move();

    /// <summary>
    /// Enqueue the completion webhook's delivery job for this round (idempotent by its id). Comes after the terminal
    /// write and before the wake-up is cleared: a crash in between leaves the wake-up, whose tick enqueues it again.
    /// When it cannot be enqueued the executor keeps the wake-up instead of clearing it.
    /// </summary>
    public static JobEffect EnqueueCallback { get; } = new Callback();

    /// <summary>Register or move the durable wake-up to fire <paramref name="DueIn"/> from now, then every recovery interval.</summary>
    public sealed record SetWakeUp(TimeSpan DueIn) : JobEffect;

    private sealed record Write : JobEffect;

    private sealed record Clear : JobEffect;

    private sealed record Drop : JobEffect;

    private sealed record Move : JobEffect;

    private sealed record Erase : JobEffect;

    private sealed record Callback : JobEffect;
}

/// <summary>The next state (null: no record) and the effects that make it so.</summary>
public sealed record JobTransition(JobState? Next, IReadOnlyList<JobEffect> Effects);

/// <summary>Thrown for an event that cannot happen in the job's state; the executor treats it as a bug, not as data.</summary>
public sealed class InvalidJobTransitionException(string message) : InvalidOperationException(message);

/// <summary>
/// The job's life as one pure function: (stored state, event) → (next state, effects). No I/O, no clock, no
/// randomness: everything comes in with the event, so every pair is unit-tested without a cluster and
/// <see cref="JobGrain"/> is only the executor of the effects.
/// </summary>
/// <remarks>
/// Durability: a queued or running job needs no wake-up of its own — the cluster's recovery sweeper
/// (<see cref="JobRecoveryGrain"/>) calls every stored queued and running job each recovery interval, so one whose
/// silo died is activated elsewhere and resumes. Registering and removing a reminder per job was half of a job's cost
/// (two of its six Redis round trips, and the reminder service's bookkeeping). A job waiting for a time (scheduled,
/// retrying) has a wake-up, stored before the state that needs it (a wake-up without state removes itself on its
/// first tick; a waiting state without a wake-up is a job nobody runs after a crash). So does a running job with a
/// completion webhook: a finished job stores its state, enqueues the delivery, then clears the wake-up, so a crash
/// in between leaves a tick that enqueues the delivery again. Attempts are counted when they begin, so a crash
/// mid-attempt uses up a retry and a job that kills its silo cannot loop for ever.
/// </remarks>
public static class JobStateMachine
{
    /// <summary>How soon a handed-off job is woken on another silo.</summary>
    public static readonly TimeSpan HandOffWakeUp = TimeSpan.FromSeconds(1);

    private static readonly JobError CancelledError = new("Cancelled", "The job was cancelled.");

    private static readonly JobError InterruptedError =
        new("AttemptInterrupted", "The silo running this attempt stopped before the attempt reported back.");

    /// <summary>The transition for an event in a state.</summary>
    /// <param name="state">The stored state; null when no job is stored under this id.</param>
    /// <param name="e">What happened.</param>
    /// <param name="recoveryInterval">Period of a durable wake-up (<see cref="JobsOptions.RecoveryInterval"/>), and its due time for a running job that has a webhook.</param>
    /// <exception cref="InvalidJobTransitionException">The event cannot happen in this state.</exception>
    public static JobTransition Apply(JobState? state, JobEvent e, TimeSpan recoveryInterval)
    {
        ArgumentNullException.ThrowIfNull(e);
        return (state, e) switch
        {
            (null, JobEvent.Enqueued enqueued) => Enqueue(enqueued, recoveryInterval),
            (null, JobEvent.WakeUp) => new(null, [JobEffect.ClearWakeUp, JobEffect.Deactivate]),
            ({ Status: var s }, JobEvent.WakeUp) when s.IsTerminal() => new(state, [.. CallbackOf(state), JobEffect.ClearWakeUp, JobEffect.Deactivate]),
            ({ }, JobEvent.WakeUp) => new(state, []),

            ({ Status: JobStatus.Scheduled or JobStatus.Retrying }, JobEvent.Due due) when state.NextAttemptAt is not { } at || at <= due.Now =>
                // Not stored: the "running" write that follows is, and until then the stored due state resumes the same way.
                new(state with { Status = JobStatus.Queued }, []),

            ({ Status: JobStatus.Queued }, JobEvent.SlotAcquired slot) => new(BeginAttempt(state, slot.Now, slot.Silo), [JobEffect.WriteState]),

            ({ Status: JobStatus.Running }, JobEvent.AttemptFinished finished) when state.History is [.., { Outcome: AttemptOutcome.Running }] =>
                Finish(finished.Progress is { } last && state.CancelRequestedAt is null ? state with { Progress = last } : state, finished),

            ({ Status: JobStatus.Running, CancelRequestedAt: null }, JobEvent.ProgressReported p)
                when state.History is [.., { Outcome: AttemptOutcome.Running } running] && running.Number == p.Attempt =>
                new(state with { Progress = p.Progress }, [JobEffect.WriteState]),
            ({ }, JobEvent.ProgressReported) => new(state, []),

            // A cancel asked for before the crash stands: the job never comes back.
            ({ Status: JobStatus.Running, CancelRequestedAt: not null }, JobEvent.Interrupted interrupted) => Terminal(
                state with { History = CloseLast(state.History, interrupted.Now, AttemptOutcome.Cancelled, CancelledError) },
                JobStatus.Cancelled, interrupted.Now),

            ({ Status: JobStatus.Running }, JobEvent.Interrupted interrupted) => Fail(
                state with { History = CloseLast(state.History, interrupted.Now, AttemptOutcome.Interrupted, InterruptedError) },
                InterruptedError, permanent: false, retryAt: interrupted.Now, interrupted.Now),

            // Waiting for a slot: wake up elsewhere now instead of at the next recovery sweep. Jobs waiting for their
            // time keep their wake-up.
            ({ Status: JobStatus.Queued }, JobEvent.HandedOff) => new(state, [new JobEffect.SetWakeUp(HandOffWakeUp)]),
            ({ Status: JobStatus.Scheduled or JobStatus.Retrying }, JobEvent.HandedOff) => new(state, []),

            // Another silo must run it; nothing is counted, and in case no such silo is up the recovery sweeper
            // (queued) or its wake-up (scheduled, retrying) tries again.
            ({ Status: JobStatus.Queued or JobStatus.Scheduled or JobStatus.Retrying }, JobEvent.NotRunnableHere) =>
                new(state, [JobEffect.Relocate]),

            ({ Status: JobStatus.Scheduled or JobStatus.Queued or JobStatus.Retrying }, JobEvent.CancelRequested cancel) =>
                Terminal(state with { CancelRequestedAt = cancel.Now, LastError = CancelledError }, JobStatus.Cancelled, cancel.Now),
            ({ Status: JobStatus.Running, CancelRequestedAt: null }, JobEvent.CancelRequested cancel) =>
                new(state with { CancelRequestedAt = cancel.Now }, [JobEffect.WriteState]),
            ({ Status: JobStatus.Running or JobStatus.Cancelled }, JobEvent.CancelRequested) => new(state, []),

            ({ Status: JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled }, JobEvent.Requeued requeued) => new(
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
                },
                [.. WakeUpForCallback(state, recoveryInterval), JobEffect.WriteState]),

            ({ Status: JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled }, JobEvent.Deleted) =>
                new(null, [JobEffect.ClearState, JobEffect.ClearWakeUp, JobEffect.Deactivate]),

            ({ Status: JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled }, JobEvent.Expired) =>
                new(null, [JobEffect.ClearState]),

            _ => throw new InvalidJobTransitionException(
                $"{e.GetType().Name} cannot happen to a job that is {(state is null ? "not stored" : state.Status.ToWireName())}."),
        };
    }

    private static JobTransition Enqueue(JobEvent.Enqueued e, TimeSpan recoveryInterval)
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
            : [.. WakeUpForCallback(state, recoveryInterval), JobEffect.WriteState]);
    }

    private static JobState BeginAttempt(JobState state, DateTimeOffset now, string silo) => state with
    {
        Status = JobStatus.Running,
        Attempts = state.Attempts + 1,
        History = [.. state.History, new JobAttempt(state.History.Count + 1, now, null, AttemptOutcome.Running, null, silo) { Round = state.Round }],
        StartedAt = state.StartedAt ?? now,
        NextAttemptAt = null,
    };

    private static JobTransition Finish(JobState state, JobEvent.AttemptFinished e)
    {
        var result = e.Result;
        if (state.CancelRequestedAt is not null || result.Outcome == AttemptOutcome.Cancelled)
        {
            // Whatever the handler did once its cancel was asked for, its result is discarded.
            return Terminal(
                state with { History = CloseLast(state.History, e.Now, AttemptOutcome.Cancelled, CancelledError), LastError = CancelledError },
                JobStatus.Cancelled, e.Now);
        }

        var history = CloseLast(state.History, e.Now, result.Outcome, result.Error);
        switch (result.Outcome)
        {
            case AttemptOutcome.Succeeded:
                return Terminal(state with { History = history, ResultJson = result.ResultJson }, JobStatus.Succeeded, e.Now);

            case AttemptOutcome.HandedOff:
                // Not the job's fault: the attempt does not count, and the job is due again at once elsewhere.
                return new(
                    state with { History = history, Attempts = state.Attempts - 1, Status = JobStatus.Queued, NextAttemptAt = e.Now },
                    [JobEffect.WriteState, new JobEffect.SetWakeUp(HandOffWakeUp)]);

            case AttemptOutcome.Failed or AttemptOutcome.TimedOut:
                var error = result.Error ?? new JobError("Unknown", "The attempt failed without an error.");
                var retryAt = e.Now + Backoff.Delay(state.Attempts, state.Policy, e.Jitter);
                return Fail(state with { History = history }, error, result.Permanent, retryAt, e.Now);

            default:
                throw new InvalidJobTransitionException($"An attempt cannot finish as {result.Outcome}.");
        }
    }

    /// <summary>Records a failed attempt: fails the job when it is permanent or out of attempts, else retries at <paramref name="retryAt"/>.</summary>
    private static JobTransition Fail(JobState state, JobError error, bool permanent, DateTimeOffset retryAt, DateTimeOffset now)
    {
        state = state with { LastError = error };
        if (permanent || state.Attempts > state.Policy.MaxRetries)
        {
            return Terminal(state, JobStatus.Failed, now);
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

    private static JobTransition Terminal(JobState state, JobStatus status, DateTimeOffset now) => new(
        state with { Status = status, FinishedAt = now, NextAttemptAt = null },
        [JobEffect.WriteState, .. CallbackOf(state), JobEffect.ClearWakeUp, JobEffect.Deactivate]);

    /// <summary>The wake-up that keeps a runnable job's webhook delivery durable, for a job that has a callback.</summary>
    private static JobEffect[] WakeUpForCallback(JobState state, TimeSpan recoveryInterval) =>
        state.CallbackUrl is null ? [] : [new JobEffect.SetWakeUp(recoveryInterval)];

    /// <summary>The webhook delivery of a finished round, for a job that has a callback.</summary>
    private static JobEffect[] CallbackOf(JobState state) => state.CallbackUrl is null ? [] : [JobEffect.EnqueueCallback];

    private static IReadOnlyList<JobAttempt> CloseLast(IReadOnlyList<JobAttempt> history, DateTimeOffset now, AttemptOutcome outcome, JobError? error) =>
        history is [.., { Outcome: AttemptOutcome.Running } last]
            ? [.. history.Take(history.Count - 1), last with { FinishedAt = now, Outcome = outcome, Error = error }]
            : history;
}
