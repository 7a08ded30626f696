using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Unit;

/// <summary>
/// The facts the stored state does not hold (a slot, a handler still running, the type here or elsewhere, a repeat
/// enqueue, retention, the clock): how each changes the decision, the pump's next step and why the job waits.
/// </summary>
public sealed class JobDecisionFactsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private static readonly JobPolicy Policy = new(2, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1));
    private static readonly JobFacts Idle = Machine.Facts(TimeSpan.FromSeconds(15));

    private static JobState In(JobStatus status, DateTimeOffset? next = null) => new()
    {
        Type = "test_echo",
        Policy = Policy,
        Status = status,
        Attempts = status == JobStatus.Running ? 1 : 0,
        CreatedAt = Now.AddMinutes(-1),
        NextAttemptAt = next,
        History = status == JobStatus.Running ? [new JobAttempt(1, Now.AddSeconds(-5), null, AttemptOutcome.Running, null, "silo-a")] : [],
    };

    [Fact]
    public void AFinishedJobWhoseHandlerStillRunsCannotBeRequeuedOrDeletedUntilItEnds()
    {
        var cancelled = In(JobStatus.Cancelled);
        var running = Idle with { PreviousHandlerRunning = true };
        foreach (JobEvent e in new JobEvent[] { new JobEvent.Requeued(Now), new JobEvent.Deleted(Now) })
        {
            var refusal = Assert.IsType<JobRefusal>(JobStateMachine.Apply(cancelled, e, running));
            Assert.Equal(JobRefusalReason.Conflict, refusal.Reason);
            Assert.Contains("handler still runs", refusal.Detail, StringComparison.Ordinal);
            Assert.IsType<JobTransition>(JobStateMachine.Apply(cancelled, e, Idle));
        }
    }

    [Fact]
    public void ARepeatEnqueueOfTheSameJobFindsItAndAnotherPayloadConflicts()
    {
        var stored = In(JobStatus.Queued, Now);
        var again = new JobEvent.Enqueued(Now, "test_echo", "{}", Policy, Now, false, "silo-a");
        Assert.Equal(JobRefusalReason.Exists, Assert.IsType<JobRefusal>(JobStateMachine.Apply(stored, again, Idle with { SameJob = true })).Reason);
        var conflict = Assert.IsType<JobRefusal>(JobStateMachine.Apply(stored, again, Idle));
        Assert.Equal(JobRefusalReason.Conflict, conflict.Reason);
        Assert.Equal("Job 'job-1' already exists with a different type or payload.", conflict.Detail);
    }

    [Fact]
    public void AFinishedJobIsGoneOnceItsRetentionEndsUnlessSomethingInMemoryStillHoldsIt()
    {
        var done = In(JobStatus.Succeeded);
        var looked = new JobEvent.Looked(Now);
        Assert.Null(Assert.IsType<JobTransition>(JobStateMachine.Apply(done, looked, Idle with { RetentionEndsAt = Now })).Next);
        Assert.Same(done, Assert.IsType<JobTransition>(JobStateMachine.Apply(done, looked, Idle with { RetentionEndsAt = Now.AddTicks(1) })).Next);
        Assert.Same(done, Assert.IsType<JobTransition>(JobStateMachine.Apply(done, looked, Idle with { RetentionEndsAt = null })).Next);
        Assert.Same(done, Assert.IsType<JobTransition>(JobStateMachine.Apply(done, looked, Idle with { RetentionEndsAt = Now, Pumping = true })).Next);
        Assert.Same(done, Assert.IsType<JobTransition>(JobStateMachine.Apply(done, looked, Idle with { RetentionEndsAt = Now, PreviousHandlerRunning = true })).Next);
    }

    [Fact]
    public void EveryStoredTransitionIsOneVersionFurtherAndOnlyThose()
    {
        var queued = In(JobStatus.Queued, Now) with { Version = 7 };
        var started = Assert.IsType<JobTransition>(JobStateMachine.Apply(queued, new JobEvent.SlotAcquired(Now, "silo-a"), Idle));
        Assert.Equal(8, started.Next!.Version);
        var handedOff = Assert.IsType<JobTransition>(JobStateMachine.Apply(queued, new JobEvent.HandedOff(Now), Idle));
        Assert.Equal(7, handedOff.Next!.Version);
        var created = Assert.IsType<JobTransition>(JobStateMachine.Apply(null, new JobEvent.Enqueued(Now, "test_echo", "{}", Policy, Now, false, "silo-a"), Idle));
        Assert.Equal(1, created.Next!.Version);
    }

    [Fact]
    public void AFinishedJobsWebhookIsDeliveredBeforeItsWakeUpGoesAndKeepsItForARecoveryIntervalWhenItCannotBe()
    {
        var running = In(JobStatus.Running) with { CallbackUrl = "https://example.com/done" };
        var finished = Assert.IsType<JobTransition>(JobStateMachine.Apply(running,
            new JobEvent.AttemptFinished(Now, new AttemptResult(AttemptOutcome.Succeeded, "1", null, false), 0), Idle with { RecoveryInterval = TimeSpan.FromSeconds(40) }));
        Assert.Equal([JobEffect.WriteState, new JobEffect.DeliverCallback(TimeSpan.FromSeconds(40)), JobEffect.Deactivate], finished.Effects);
    }

    [Fact]
    public void AJobNotStartedByItsStartByEndsCancelledAsExpiredWithoutRunningAndOnlyBeforeItsRoundsFirstAttempt()
    {
        var late = In(JobStatus.Queued, Now.AddMinutes(-2)) with { StartBy = Now.AddSeconds(-1) };
        var expired = Assert.IsType<JobTransition>(JobStateMachine.Apply(late, new JobEvent.SlotAcquired(Now, "silo-a"), Idle));
        Assert.Equal(JobStatus.Cancelled, expired.Next!.Status);
        Assert.Equal("Expired", expired.Next.LastError!.Type);
        Assert.Empty(expired.Next.History);
        Assert.Equal(0, expired.Next.Attempts);
        Assert.Equal([JobEffect.WriteState, JobEffect.ClearWakeUp, JobEffect.Deactivate], expired.Effects);

        // Exactly at its limit it still starts; a retry after a first attempt is not limited.
        var onTime = late with { StartBy = Now };
        Assert.Equal(JobStatus.Running, Assert.IsType<JobTransition>(JobStateMachine.Apply(onTime, new JobEvent.SlotAcquired(Now, "silo-a"), Idle)).Next!.Status);
        var retry = late with { Attempts = 1 };
        Assert.Equal(JobStatus.Running, Assert.IsType<JobTransition>(JobStateMachine.Apply(retry, new JobEvent.SlotAcquired(Now, "silo-a"), Idle)).Next!.Status);
    }

    [Fact]
    public void ARequeueStartsMaxAgeAfreshAndDropsAStartByInstant()
    {
        var expired = In(JobStatus.Cancelled) with { StartBy = Now.AddHours(-1), MaxAge = TimeSpan.FromMinutes(10) };
        var requeued = Assert.IsType<JobTransition>(JobStateMachine.Apply(expired, new JobEvent.Requeued(Now), Idle)).Next!;
        Assert.Equal(Now.AddMinutes(10), requeued.StartBy);
        var byInstant = expired with { MaxAge = null };
        Assert.Null(Assert.IsType<JobTransition>(JobStateMachine.Apply(byInstant, new JobEvent.Requeued(Now), Idle)).Next!.StartBy);

        var created = Assert.IsType<JobTransition>(JobStateMachine.Apply(null, new JobEvent.Enqueued(Now, "test_echo", "{}", Policy, Now, false, "silo-a")
        {
            StartBy = Now.AddMinutes(5),
            MaxAge = TimeSpan.FromMinutes(5),
        }, Idle)).Next!;
        Assert.Equal((Now.AddMinutes(5), TimeSpan.FromMinutes(5)), (created.StartBy!.Value, created.MaxAge!.Value));
    }

    public static TheoryData<string, string?> StartLimits() => new()
    {
        // options, field named (null: valid)
        { "startBy +1m", null },
        { "startBy now", "startBy" },
        { "startBy -1m", "startBy" },
        { "delay 10m, startBy +5m", "startBy" },
        { "delay 10m, startBy +10m", null },
        { "maxAge 1m", null },
        { "maxAge 0", "maxAge" },
        { "maxAge -1m", "maxAge" },
        { "delay 10m, maxAge 5m", "maxAge" },
        { "runAt +10m, maxAge 5m", "maxAge" },
        { "startBy +1m, maxAge 1m", "startBy" },
    };

    [Theory]
    [MemberData(nameof(StartLimits))]
    public void StartByAndMaxAgeAreCheckedAgainstNowAndTheFirstRun(string options, string? field)
    {
        var o = JobOptions.None;
        foreach (var part in options.Split(", "))
        {
            var (name, value) = (part.Split(' ')[0], part.Split(' ')[1]);
            var span = value == "now" ? TimeSpan.Zero : value == "0" ? TimeSpan.Zero : TimeSpan.FromMinutes(int.Parse(value.TrimEnd('m').TrimStart('+'), System.Globalization.CultureInfo.InvariantCulture));
            o = name switch
            {
                "startBy" => o with { StartBy = Now + span },
                "runAt" => o with { RunAt = Now + span },
                "delay" => o with { Delay = span },
                "maxAge" => o with { MaxAge = span },
                _ => throw new ArgumentOutOfRangeException(nameof(options), options, null),
            };
        }

        var errors = o.ValidateSchedule(Now);
        if (field is null)
        {
            Assert.Empty(errors);
            Assert.Equal([JobFeatures.StartBy], o.RequiredFeatures());
        }
        else
        {
            Assert.Equal([field], errors.Keys);
        }
    }

    public static TheoryData<string, string, string> Steps() => new()
    {
        // state, facts, expected step
        { "none", "idle", "stop" },
        { "scheduled in 10s", "idle", "wait until +10s" },
        { "scheduled in 10s", "previous handler", "wait until +10s" },
        { "scheduled in 2m", "idle", "rest" },
        { "scheduled in 2m", "previous handler", "wait until +120s" },
        { "scheduled now", "idle", "apply Due" },
        { "retrying in 10s", "idle", "wait until +10s" },
        { "retrying in 2m", "idle", "rest" },
        { "retrying now", "idle", "apply Due" },
        { "queued", "idle", "acquire slot" },
        { "queued", "previous handler", "await previous handler" },
        { "queued", "not runnable here", "apply NotRunnableHere" },
        { "running", "slot held", "run attempt" },
        { "running", "idle", "apply Interrupted" },
        { "succeeded", "idle", "stop" },
        { "failed", "idle", "stop" },
        { "cancelled", "idle", "stop" },
    };

    [Theory]
    [MemberData(nameof(Steps))]
    public void ThePumpsNextStepFollowsFromTheStateAndTheFacts(string state, string facts, string expected)
    {
        var step = JobStateMachine.NextStep(StateFor(state), FactsFor(facts), Now);
        var described = step switch
        {
            JobStep.WaitUntil w => $"wait until +{(w.Until - Now).TotalSeconds}s",
            JobStep.Apply a => $"apply {a.Event.GetType().Name}",
            _ when step == JobStep.Stop => "stop",
            _ when step == JobStep.Rest => "rest",
            _ when step == JobStep.AcquireSlot => "acquire slot",
            _ when step == JobStep.AwaitPreviousHandler => "await previous handler",
            _ when step == JobStep.RunAttempt => "run attempt",
            _ => step.ToString(),
        };
        Assert.Equal(expected, described);
        Assert.Equal(expected is not ("stop" or "rest"), JobStateMachine.NeedsPump(StateFor(state), FactsFor(facts), Now));
    }

    [Fact]
    public void TheStepTableCoversEveryStatus()
    {
        var covered = Steps().Select(row => ((string)row[0]).Split(' ')[0]).ToHashSet();
        Assert.All(Enum.GetValues<JobStatus>(), s => Assert.Contains(s.ToWireName(), covered));
    }

    public static TheoryData<string, string, string> Waits() => new()
    {
        // state, facts, expected "reason until" or "null"
        { "none", "idle", "null" },
        { "scheduled in 2m", "idle", "runAt +120s" },
        { "retrying in 10s", "idle", "retryBackoff +10s" },
        { "retrying now", "not runnable here", "noSiloForType -" },
        { "scheduled now", "idle", "workerSlot - silo-a 4/4" },
        { "queued", "idle", "workerSlot - silo-a 4/4" },
        { "queued", "previous handler", "previousHandlerRunning -" },
        { "queued", "not runnable here", "noSiloForType -" },
        { "queued", "runnable elsewhere", "workerSlot -" },
        { "running", "slot held", "null" },
        { "running", "cancel pending", "cancelPending +25s" },
        { "succeeded", "idle", "null" },
        { "failed", "idle", "null" },
        { "cancelled", "idle", "null" },
    };

    [Theory]
    [MemberData(nameof(Waits))]
    public void WhyAJobWaitsFollowsFromTheStateAndTheFacts(string state, string facts, string expected)
    {
        var current = StateFor(state);
        if (facts == "cancel pending")
        {
            current = current! with { CancelRequestedAt = Now.AddSeconds(-5) };
        }

        var waiting = JobStateMachine.WaitingFor(current, FactsFor(facts) with { SlotsUsed = 4, CancelGrace = TimeSpan.FromSeconds(30) }, Now);
        var described = waiting is null
            ? "null"
            : $"{waiting.Reason} {(waiting.Until is { } until ? $"+{(until - Now).TotalSeconds}s" : "-")}"
              + (waiting.Silo is null ? "" : $" {waiting.Silo} {waiting.SlotsUsed}/{waiting.SlotsTotal}");
        Assert.Equal(expected, described);
        Assert.False(string.IsNullOrWhiteSpace(waiting?.Detail ?? "x"));
    }

    private static JobState? StateFor(string name) => name switch
    {
        "none" => null,
        "scheduled in 10s" => In(JobStatus.Scheduled, Now.AddSeconds(10)),
        "scheduled in 2m" => In(JobStatus.Scheduled, Now.AddMinutes(2)),
        "scheduled now" => In(JobStatus.Scheduled, Now),
        "retrying in 10s" => In(JobStatus.Retrying, Now.AddSeconds(10)) with { Attempts = 1, LastError = new JobError("IOException", "disk") },
        "retrying in 2m" => In(JobStatus.Retrying, Now.AddMinutes(2)),
        "retrying now" => In(JobStatus.Retrying, Now.AddSeconds(-1)),
        "queued" => In(JobStatus.Queued, Now),
        "running" => In(JobStatus.Running),
        "succeeded" => In(JobStatus.Succeeded),
        "failed" => In(JobStatus.Failed),
        "cancelled" => In(JobStatus.Cancelled),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static JobFacts FactsFor(string name) => name switch
    {
        "idle" or "cancel pending" => Idle,
        "previous handler" => Idle with { PreviousHandlerRunning = true },
        "not runnable here" => Idle with { RunnableHere = false },
        "runnable elsewhere" => Idle with { RunnableHere = false, RunnableElsewhere = true },
        "slot held" => Idle with { SlotHeld = true },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };
}
