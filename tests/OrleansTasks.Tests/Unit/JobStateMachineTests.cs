using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Unit;

/// <summary>Every state × every event of <see cref="JobStateMachine"/>, without a cluster.</summary>
public sealed class JobStateMachineTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(15);
    private static readonly JobPolicy Policy = new(2, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1));
    private static readonly AttemptResult Success = new(AttemptOutcome.Succeeded, "\"ok\"", null, false);

    public static TheoryData<string, string, string> EveryPair() => new()
    {
        // state, event, expected "status: effects" or "invalid"
        { "none", "Enqueued", "queued: write" },
        { "none", "Due", "invalid" },
        { "none", "SlotAcquired", "invalid" },
        { "none", "AttemptFinished", "invalid" },
        { "none", "Interrupted", "invalid" },
        { "none", "HandedOff", "invalid" },
        { "none", "NotRunnableHere", "invalid" },
        { "none", "WakeUp", "none: clear, deactivate" },
        { "none", "CancelRequested", "refused(NotFound)" },
        { "none", "Requeued", "refused(NotFound)" },
        { "none", "Deleted", "refused(NotFound)" },
        { "none", "Looked", "none: " },
        { "none", "ProgressReported", "invalid" },

        { "scheduled", "Enqueued", "refused(Conflict)" },
        { "scheduled", "Due", "queued: " },
        { "scheduled", "SlotAcquired", "refused(Moved)" },
        { "scheduled", "AttemptFinished", "invalid" },
        { "scheduled", "Interrupted", "invalid" },
        { "scheduled", "HandedOff", "scheduled: " },
        { "scheduled", "NotRunnableHere", "scheduled: relocate" },
        { "scheduled", "WakeUp", "scheduled: " },
        { "scheduled", "CancelRequested", "cancelled: write, clear, deactivate" },
        { "scheduled", "Requeued", "refused(Conflict)" },
        { "scheduled", "Deleted", "refused(Conflict)" },
        { "scheduled", "Looked", "scheduled: " },
        { "scheduled", "ProgressReported", "scheduled: " },

        { "queued", "Enqueued", "refused(Conflict)" },
        { "queued", "Due", "refused(Moved)" },
        { "queued", "SlotAcquired", "running: write" },
        { "queued", "AttemptFinished", "invalid" },
        { "queued", "Interrupted", "invalid" },
        { "queued", "HandedOff", "queued: wake(00:00:01)" },
        { "queued", "NotRunnableHere", "queued: relocate" },
        { "queued", "WakeUp", "queued: " },
        { "queued", "CancelRequested", "cancelled: write, clear, deactivate" },
        { "queued", "Requeued", "refused(Conflict)" },
        { "queued", "Deleted", "refused(Conflict)" },
        { "queued", "Looked", "queued: " },
        { "queued", "ProgressReported", "queued: " },

        { "running", "Enqueued", "refused(Conflict)" },
        { "running", "Due", "refused(Moved)" },
        { "running", "SlotAcquired", "refused(Moved)" },
        { "running", "AttemptFinished", "succeeded: write, clear, deactivate" },
        { "running", "Interrupted", "queued: write" },
        { "running", "HandedOff", "invalid" },
        { "running", "NotRunnableHere", "invalid" },
        { "running", "WakeUp", "running: " },
        { "running", "CancelRequested", "running: write" },
        { "running", "Requeued", "refused(Conflict)" },
        { "running", "Deleted", "refused(Conflict)" },
        { "running", "Looked", "running: " },
        { "running", "ProgressReported", "running: write" },

        { "retrying", "Enqueued", "refused(Conflict)" },
        { "retrying", "Due", "queued: " },
        { "retrying", "SlotAcquired", "refused(Moved)" },
        { "retrying", "AttemptFinished", "invalid" },
        { "retrying", "Interrupted", "invalid" },
        { "retrying", "HandedOff", "retrying: " },
        { "retrying", "NotRunnableHere", "retrying: relocate" },
        { "retrying", "WakeUp", "retrying: " },
        { "retrying", "CancelRequested", "cancelled: write, clear, deactivate" },
        { "retrying", "Requeued", "refused(Conflict)" },
        { "retrying", "Deleted", "refused(Conflict)" },
        { "retrying", "Looked", "retrying: " },
        { "retrying", "ProgressReported", "retrying: " },

        { "succeeded", "Enqueued", "refused(Conflict)" },
        { "succeeded", "Due", "refused(Moved)" },
        { "succeeded", "SlotAcquired", "refused(Moved)" },
        { "succeeded", "AttemptFinished", "invalid" },
        { "succeeded", "Interrupted", "invalid" },
        { "succeeded", "HandedOff", "invalid" },
        { "succeeded", "NotRunnableHere", "invalid" },
        { "succeeded", "WakeUp", "succeeded: clear, deactivate" },
        { "succeeded", "CancelRequested", "refused(Conflict)" },
        { "succeeded", "Requeued", "queued: write" },
        { "succeeded", "Deleted", "none: erase, clear, deactivate" },
        { "succeeded", "Looked", "none: erase" },
        { "succeeded", "ProgressReported", "succeeded: " },

        { "failed", "Enqueued", "refused(Conflict)" },
        { "failed", "Due", "refused(Moved)" },
        { "failed", "SlotAcquired", "refused(Moved)" },
        { "failed", "AttemptFinished", "invalid" },
        { "failed", "Interrupted", "invalid" },
        { "failed", "HandedOff", "invalid" },
        { "failed", "NotRunnableHere", "invalid" },
        { "failed", "WakeUp", "failed: clear, deactivate" },
        { "failed", "CancelRequested", "refused(Conflict)" },
        { "failed", "Requeued", "queued: write" },
        { "failed", "Deleted", "none: erase, clear, deactivate" },
        { "failed", "Looked", "none: erase" },
        { "failed", "ProgressReported", "failed: " },

        { "cancelled", "Enqueued", "refused(Conflict)" },
        { "cancelled", "Due", "refused(Moved)" },
        { "cancelled", "SlotAcquired", "refused(Moved)" },
        { "cancelled", "AttemptFinished", "invalid" },
        { "cancelled", "Interrupted", "invalid" },
        { "cancelled", "HandedOff", "invalid" },
        { "cancelled", "NotRunnableHere", "invalid" },
        { "cancelled", "WakeUp", "cancelled: clear, deactivate" },
        { "cancelled", "CancelRequested", "cancelled: " },
        { "cancelled", "Requeued", "queued: write" },
        { "cancelled", "Deleted", "none: erase, clear, deactivate" },
        { "cancelled", "Looked", "none: erase" },
        { "cancelled", "ProgressReported", "cancelled: " },
    };

    [Theory]
    [MemberData(nameof(EveryPair))]
    public void EveryStateAndEventHasItsTransitionOrIsRefused(string state, string eventName, string expected)
    {
        var before = StateIn(state);
        var e = EventNamed(eventName);
        var facts = Machine.Facts(Recovery) with { RetentionEndsAt = Now };
        if (expected == "invalid")
        {
            Assert.Throws<InvalidJobTransitionException>(() => JobStateMachine.Apply(before, e, facts));
            return;
        }

        var decision = JobStateMachine.Apply(before, e, facts);
        Assert.Equal(expected, decision is JobRefusal refusal ? $"refused({refusal.Reason})" : Describe((JobTransition)decision));
    }

    [Fact]
    public void TheTableCoversEveryStatusAndEveryEvent()
    {
        var rows = EveryPair().Select(row => ((string)row[0], (string)row[1])).ToHashSet();
        var states = Enum.GetValues<JobStatus>().Select(s => s.ToWireName()).Append("none").ToList();
        var events = typeof(JobEvent).GetNestedTypes().Where(t => t.IsSubclassOf(typeof(JobEvent))).Select(t => t.Name).ToList();
        Assert.Equal(13, events.Count);
        Assert.All(states, s => Assert.All(events, ev => Assert.Contains((s, ev), rows)));
    }

    [Fact]
    public void ADelayedEnqueueStoresTheWakeUpBeforeTheStateAndNeverChangesTheInput()
    {
        var delayed = Machine.Apply(null, Enqueue(runAt: Now.AddMinutes(5)), Recovery);
        Assert.Equal(JobStatus.Scheduled, delayed.Next!.Status);
        Assert.Equal(Now.AddMinutes(5), delayed.Next.NextAttemptAt);
        Assert.Equal("scheduled: wake(00:05:00), write", Describe(delayed));

        var withSlot = Machine.Apply(null, Enqueue(slot: true), Recovery);
        Assert.Equal(JobStatus.Running, withSlot.Next!.Status);
        Assert.Equal(1, withSlot.Next.Attempts);
        Assert.Equal(AttemptOutcome.Running, Assert.Single(withSlot.Next.History).Outcome);
        Assert.Equal("silo-a", withSlot.Next.History[0].Silo);
        Assert.Equal(Now, withSlot.Next.StartedAt);
        Assert.Null(withSlot.Next.NextAttemptAt);

        var queued = StateIn("queued")!;
        var copy = queued with { };
        _ = Machine.Apply(queued, new JobEvent.SlotAcquired(Now, "silo-a"), Recovery);
        Assert.Equal(copy, queued);
    }

    [Fact]
    public void AJobDueNowHasNoWakeUpUnlessItHasAWebhookWhoseDeliveryItMustKeepDurable()
    {
        // The recovery sweeper resumes stranded queued and running jobs: no reminder per job.
        Assert.Equal("queued: write", Describe(Machine.Apply(null, Enqueue(), Recovery)));
        Assert.Equal("running: write", Describe(Machine.Apply(null, Enqueue(slot: true), Recovery)));

        // With a callback, a crash between the finished write and the delivery's enqueue must leave a tick behind.
        var withCallback = Enqueue(slot: true) with { CallbackUrl = "https://example.com/done" };
        Assert.Equal("running: wake(00:00:15), write", Describe(Machine.Apply(null, withCallback, Recovery)));
        var finished = StateIn("succeeded")! with { CallbackUrl = "https://example.com/done" };
        Assert.Equal("queued: wake(00:00:15), write", Describe(Machine.Apply(finished, new JobEvent.Requeued(Now), Recovery)));
    }

    [Fact]
    public void ADelayedJobCannotTakeASlotAndAJobIsNotDueBeforeItsTime()
    {
        Assert.Throws<InvalidJobTransitionException>(() => Machine.Apply(null, Enqueue(runAt: Now.AddSeconds(1), slot: true), Recovery));
        var scheduled = StateIn("scheduled")! with { NextAttemptAt = Now.AddSeconds(1) };
        Assert.Throws<InvalidJobTransitionException>(() => Machine.Apply(scheduled, new JobEvent.Due(Now), Recovery));
        Assert.Equal(JobStatus.Queued, Machine.Apply(scheduled, new JobEvent.Due(Now.AddSeconds(1)), Recovery).Next!.Status);
    }

    [Fact]
    public void AFailedAttemptWithRetriesLeftWaitsItsBackoffThenTheLastOneFailsTheJob()
    {
        var error = new JobError("IOException", "disk");
        var failed = new AttemptResult(AttemptOutcome.Failed, null, error, false);

        // Attempt 1 of 3 (maxRetries 2): base backoff 10 s, jitter 0.5 → 12.5 s.
        var first = Machine.Apply(StateIn("running"), new JobEvent.AttemptFinished(Now, failed, 0.5), Recovery);
        Assert.Equal(JobStatus.Retrying, first.Next!.Status);
        Assert.Equal(Now.AddSeconds(12.5), first.Next.NextAttemptAt);
        Assert.Equal(error, first.Next.LastError);
        Assert.Equal("retrying: wake(00:00:12.5000000), write", Describe(first));
        Assert.Equal(AttemptOutcome.Failed, first.Next.History[^1].Outcome);
        Assert.Equal(Now, first.Next.History[^1].FinishedAt);

        var last = Running(attempts: 3);
        var final = Machine.Apply(last, new JobEvent.AttemptFinished(Now, failed, 0.5), Recovery);
        Assert.Equal("failed: write, clear, deactivate", Describe(final));
        Assert.Equal(Now, final.Next!.FinishedAt);
        Assert.Null(final.Next.NextAttemptAt);

        var timedOut = new AttemptResult(AttemptOutcome.TimedOut, null, new JobError("TimeoutException", "late"), false);
        Assert.Equal(JobStatus.Retrying, Machine.Apply(StateIn("running"), new JobEvent.AttemptFinished(Now, timedOut, 0), Recovery).Next!.Status);

        var permanent = failed with { Permanent = true };
        Assert.Equal(JobStatus.Failed, Machine.Apply(StateIn("running"), new JobEvent.AttemptFinished(Now, permanent, 0), Recovery).Next!.Status);
    }

    [Fact]
    public void AHandedOffAttemptDoesNotCountAndWakesUpElsewhereAtOnce()
    {
        var handedOff = new AttemptResult(AttemptOutcome.HandedOff, null, new JobError("HandedOff", "stopping"), false);
        var t = Machine.Apply(Running(attempts: 2), new JobEvent.AttemptFinished(Now, handedOff, 0), Recovery);
        Assert.Equal("queued: write, wake(00:00:01)", Describe(t));
        Assert.Equal(1, t.Next!.Attempts);
        Assert.Equal(AttemptOutcome.HandedOff, t.Next.History[^1].Outcome);
        Assert.Equal(Now, t.Next.NextAttemptAt);
    }

    [Fact]
    public void AnInterruptedAttemptCountsAndRerunsAtOnceUnlessItWasTheLast()
    {
        var again = Machine.Apply(StateIn("running"), new JobEvent.Interrupted(Now), Recovery);
        Assert.Equal(JobStatus.Queued, again.Next!.Status);
        Assert.Equal(1, again.Next.Attempts);
        Assert.Equal(AttemptOutcome.Interrupted, again.Next.History[^1].Outcome);
        Assert.Equal("AttemptInterrupted", again.Next.LastError!.Type);

        var exhausted = Machine.Apply(Running(attempts: 3), new JobEvent.Interrupted(Now), Recovery);
        Assert.Equal("failed: write, clear, deactivate", Describe(exhausted));
    }

    [Fact]
    public void ASuccessStoresTheResultAndEndsTheJob()
    {
        var t = Machine.Apply(StateIn("running"), new JobEvent.AttemptFinished(Now, Success, 0), Recovery);
        Assert.Equal("\"ok\"", t.Next!.ResultJson);
        Assert.Equal(AttemptOutcome.Succeeded, t.Next.History[^1].Outcome);
        Assert.Equal(Now, t.Next.FinishedAt);
    }

    [Fact]
    public void ACancelAskedForWhileRunningEndsTheJobCancelledWhateverTheAttemptDidAndSurvivesACrash()
    {
        var marked = Machine.Apply(StateIn("running"), new JobEvent.CancelRequested(Now), Recovery).Next!;
        Assert.Equal(Now, marked.CancelRequestedAt);
        Assert.Equal("running: ", Describe(Machine.Apply(marked, new JobEvent.CancelRequested(Now.AddSeconds(1)), Recovery)));

        // The handler returned a result after its token fired: discarded.
        var finished = Machine.Apply(marked, new JobEvent.AttemptFinished(Now.AddSeconds(2), Success, 0), Recovery);
        Assert.Equal("cancelled: write, clear, deactivate", Describe(finished));
        Assert.Null(finished.Next!.ResultJson);
        Assert.Equal(AttemptOutcome.Cancelled, finished.Next.History[^1].Outcome);

        // The silo died after the cancel was stored: the job does not run again.
        var crashed = Machine.Apply(marked, new JobEvent.Interrupted(Now.AddSeconds(3)), Recovery);
        Assert.Equal("cancelled: write, clear, deactivate", Describe(crashed));
        Assert.Equal(AttemptOutcome.Cancelled, crashed.Next!.History[^1].Outcome);
    }

    [Fact]
    public void ARequeueStartsANewRoundWithAFreshBudgetAndKeepsTheHistory()
    {
        var failed = Machine.Apply(Running(attempts: 3), new JobEvent.AttemptFinished(Now,
            new AttemptResult(AttemptOutcome.Failed, null, new JobError("IOException", "disk"), false), 0), Recovery).Next!;
        Assert.Equal(JobStatus.Failed, failed.Status);

        var requeued = Machine.Apply(failed, new JobEvent.Requeued(Now.AddMinutes(1)), Recovery).Next!;
        Assert.Equal((JobStatus.Queued, 0, 2), (requeued.Status, requeued.Attempts, requeued.Round));
        Assert.Null(requeued.FinishedAt);
        Assert.Equal(failed.History, requeued.History);

        var again = Machine.Apply(requeued, new JobEvent.SlotAcquired(Now.AddMinutes(2), "silo-b"), Recovery).Next!;
        Assert.Equal(1, again.Attempts);
        Assert.Equal((4, 2), (again.History[^1].Number, again.History[^1].Round));
        Assert.All(again.History.SkipLast(1), a => Assert.Equal(1, a.Round));
    }

    private static JobEvent.Enqueued Enqueue(DateTimeOffset? runAt = null, bool slot = false) =>
        new(Now, "test_echo", "{}", Policy, runAt ?? Now, slot, "silo-a");

    private static JobState Running(int attempts) => new()
    {
        Type = "test_echo",
        Policy = Policy,
        Status = JobStatus.Running,
        Attempts = attempts,
        CreatedAt = Now.AddMinutes(-1),
        StartedAt = Now.AddMinutes(-1),
        History = [.. Enumerable.Range(1, attempts).Select(n => new JobAttempt(n, Now.AddSeconds(-n), n == attempts ? null : Now,
            n == attempts ? AttemptOutcome.Running : AttemptOutcome.Failed, null, "silo-a"))],
    };

    private static JobState? StateIn(string status) => status switch
    {
        "none" => null,
        "running" => Running(attempts: 1),
        _ => new JobState
        {
            Type = "test_echo",
            Policy = Policy,
            Status = Enum.GetValues<JobStatus>().Single(s => s.ToWireName() == status),
            CreatedAt = Now.AddMinutes(-1),
            NextAttemptAt = status is "scheduled" or "retrying" or "queued" ? Now.AddSeconds(-1) : null,
        },
    };

    private static JobEvent EventNamed(string name) => name switch
    {
        "Enqueued" => Enqueue(),
        "Due" => new JobEvent.Due(Now),
        "SlotAcquired" => new JobEvent.SlotAcquired(Now, "silo-a"),
        "AttemptFinished" => new JobEvent.AttemptFinished(Now, Success, 0),
        "Interrupted" => new JobEvent.Interrupted(Now),
        "HandedOff" => new JobEvent.HandedOff(Now),
        "NotRunnableHere" => new JobEvent.NotRunnableHere(Now),
        "WakeUp" => new JobEvent.WakeUp(Now),
        "CancelRequested" => new JobEvent.CancelRequested(Now),
        "Requeued" => new JobEvent.Requeued(Now),
        "Deleted" => new JobEvent.Deleted(Now),
        "Looked" => new JobEvent.Looked(Now),
        "ProgressReported" => new JobEvent.ProgressReported(Now, 1, new JobProgress(50, null, Now)),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static string Describe(JobTransition t) =>
        $"{t.Next?.Status.ToWireName() ?? "none"}: {string.Join(", ", t.Effects.Select(Describe))}";

    private static string Describe(JobEffect effect) => effect switch
    {
        JobEffect.SetWakeUp set => $"wake({set.DueIn:c})",
        _ when effect == JobEffect.WriteState => "write",
        _ when effect == JobEffect.ClearWakeUp => "clear",
        _ when effect == JobEffect.Deactivate => "deactivate",
        _ when effect == JobEffect.Relocate => "relocate",
        _ when effect == JobEffect.ClearState => "erase",
        JobEffect.DeliverCallback d => $"deliver({d.KeepWakeUpIn:c})",
        _ => effect.ToString()!,
    };
}
