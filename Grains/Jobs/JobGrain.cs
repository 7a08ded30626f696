using Orleans.Placement;
using Orleans.Runtime.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansTasks.Infrastructure;
using OrleansTasks.Observability;

namespace OrleansTasks.Jobs;

/// <summary>
/// One job, as the executor of <see cref="JobStateMachine"/>: it gathers the facts a decision needs, carries out the
/// decision's effects in order, and restores memory after a failed write. Its state lives in grain storage (Redis in
/// production); a background "pump" on the grain's own scheduler drives the attempts; grain calls (queries, duplicate
/// enqueues) interleave with it and never wait for a handler, because handlers run on the thread pool
/// (<see cref="JobRunner"/>). What brings a job back after a crash (the recovery sweeper, or a wake-up reminder for a
/// job waiting for its time) is described on <see cref="JobStateMachine"/>.
/// </summary>
/// <remarks>
/// Random placement spreads jobs evenly over the silos, and so over their worker pools: the default
/// resource-optimized placement favours the silo that looks least loaded at the instant, which for a burst of
/// short-lived grains is whichever silo published its statistics last.
/// </remarks>
[RandomPlacement]
[GrainType("job")]
public sealed partial class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> job,
    JobTypeRegistry registry,
    JobRunner runner,
    JobTypeDirectory directory,
    StorageHeadroom headroom,
    JobRetention retention,
    Webhooks.WebhookDeliveries webhooks,
    IOptions<JobsOptions> options,
    IOptions<GrainCollectionOptions> collection,
    [FromKeyedServices(JobClock.Key)] TimeProvider time,
    ILogger<JobGrain> logger,
    JobMetrics metrics) : Grain, IJobGrain, IRemindable
{
    // A retry or delayed start this close is awaited in memory (precise to milliseconds) with the activation kept
    // alive; a later one lets the activation go and relies on the reminder alone.
    private static readonly TimeSpan KeepWarmLimit = TimeSpan.FromMinutes(1);

    private Task? _pump;

    // _stopWaiting ends the pump's waits (for a slot, for the job's time); _handOff also cuts a running attempt
    // short. A graceful stop fires both; any other deactivation only the first, so a running attempt ends truthfully.
    private CancellationTokenSource? _stopWaiting;
    private CancellationTokenSource? _handOff;
    private string? _handOffReason;

    // The wake-up reminder, for a job waiting for its time or finishing with a webhook (JobStateMachine's remarks).
    private readonly ReminderSlot _wakeUp = new("wake-up");

    // Memory never ahead of storage: after a failed write the state before it, stale until read again.
    private readonly StoredState<JobState> _job = new(job);

    // The worker slot held for the attempt this activation began, and when that attempt was planned to start.
    private IDisposable? _slot;
    private DateTimeOffset? _plannedStart;

    // A handler of this job that ignored its token and still runs; the next attempt here waits for it.
    private Task? _abandoned;

    // Transitions come from the pump and from client calls (cancel, requeue, delete), interleaved at awaits: one at a
    // time, each decided on the state the previous one left.
    private readonly SemaphoreSlim _transitions = new(1, 1);

    // Fires the running attempt's cancellation when a client cancels the job.
    private CancellationTokenSource? _attemptCancel;

    // Keeps the activation while an abandoned handler of this job still runs.
    private IGrainTimer? _abandonedWatch;

    private JobState? State => _job.Current;

    private string Id => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A job found mid-flight in storage resumes at once (its old silo is gone or it would not activate here),
        // rather than at the next recovery sweep.
        StartPumpIfDue();
        return Task.CompletedTask;
    }

    public async Task<EnqueueResult> EnqueueAsync(EnqueueRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        await RefreshAsync();
        var now = time.GetUtcNow();
        if (State is { } existing)
        {
            // The stored job answers a repeat enqueue, same or not; nothing is validated or written.
            var repeat = new JobEvent.Enqueued(now, request.Type ?? "", request.PayloadJson ?? "", existing.Policy, now, false, RuntimeIdentity);
            var refusal = (JobRefusal)JobStateMachine.Apply(existing, repeat, Facts(existing) with { SameJob = RepeatEnqueue.IsSameJob(registry, existing, request) });
            return refusal.Reason == JobRefusalReason.Exists
                ? new EnqueueResult { Outcome = EnqueueOutcome.Existing, Snapshot = Snapshot(existing) }
                : new EnqueueResult { Outcome = EnqueueOutcome.Conflict, Snapshot = Snapshot(existing), Detail = refusal.Detail };
        }

        if (headroom.Last is { AboveWatermark: true } reading)
        {
            // A new job would take memory the accepted ones need to finish; nothing is written.
            DeactivateOnIdle();
            throw new JobStorageFullException(reading.Reason);
        }

        if (directory.SilosLacking(request.Options.RequiredFeatures()) is { Count: > 0 } older)
        {
            // A silo of an older release would hold the job without honouring the option (a rolling deploy).
            DeactivateOnIdle();
            return new EnqueueResult
            {
                Outcome = EnqueueOutcome.Unavailable,
                Detail = $"The job uses {string.Join(", ", request.Options.RequiredFeatures())}, which these live silos do not know yet: "
                    + $"{string.Join(", ", older)}. Retry once the rolling deploy has finished.",
            };
        }

        var check = await CheckAsync(request, now);
        if (check.Errors.Count > 0)
        {
            // Nothing was written; do not keep an empty activation around either.
            DeactivateOnIdle();
            return EnqueueResult.Invalid(
                check.Errors.ContainsKey("type") ? "Unknown job type." : "The job request is invalid.", check.Errors);
        }

        var runAt = request.Options.FirstRunAt(now);

        // A free worker slot (and nobody waiting for one) lets the first attempt begin in this same write, when this
        // silo can run the type.
        var slot = runAt <= now && runner.Waiting == 0 && registry.TryGet(check.Type, out _) ? runner.TryAcquireSlot() : null;
        var enqueued = new JobEvent.Enqueued(now, check.Type, check.CanonicalPayload!, check.Policy!, runAt, slot is not null, RuntimeIdentity)
        {
            CallbackUrl = check.CallbackUrl,
            TraceParent = request.TraceParent,
            StartBy = request.Options.StartDeadline(now),
            MaxAge = request.Options.MaxAge,
        };
        try
        {
            await ApplyAsync(enqueued);
        }
        catch
        {
            slot?.Dispose();
            throw;
        }

        var state = State!;
        LogEnqueued(Id, state.Type, state.Status, runAt);
        metrics.JobCreated(state.Type);
        if (slot is not null)
        {
            _slot = slot;
            _plannedStart = runAt;
            LogStarted(Id, state.Type, state.Attempts, RuntimeIdentity);
        }

        StartPumpIfDue();
        if (_pump is null)
        {
            // Scheduled far ahead: nothing to do in memory until the reminder fires.
            DeactivateOnIdle();
        }

        return new EnqueueResult { Outcome = EnqueueOutcome.Created, Snapshot = Snapshot(state) };
    }

    public async Task<JobSnapshot?> GetSnapshotAsync()
    {
        await RefreshAsync();
        // While a transition's writes are in flight, queries see the state before it: a write that fails must never
        // have been shown.
        var visible = _job.Visible;
        if (visible is not { } state || (state.Status.IsTerminal() && _pump is null))
        {
            // Lookups of finished or unknown jobs must not pile up activations.
            DeactivateWhenIdle();
        }

        return visible is { } current
            ? Snapshot(current) with { WaitingFor = JobStateMachine.WaitingFor(current, Facts(current, reading: true), time.GetUtcNow()) }
            : null;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        _wakeUp.Ticked();
        return WakeAsync();
    }

    public Task RecoverAsync() => WakeAsync();

    /// <summary>The facts of this activation for a decision on <paramref name="state"/>.</summary>
    /// <param name="state">The state decided on.</param>
    /// <param name="reading">For a read (why the job waits): also ask the cluster whether another silo has its type.</param>
    private JobFacts Facts(JobState? state, bool reading = false) => new()
    {
        JobId = Id,
        RecoveryInterval = options.Value.RecoveryInterval,
        CancelGrace = options.Value.CancelGrace,
        KeepWarmLimit = KeepWarmLimit,
        SlotHeld = _slot is not null,
        PreviousHandlerRunning = _abandoned is { IsCompleted: false },
        Pumping = _pump is not null,
        RunnableHere = state is null || registry.TryGet(state.Type, out _),
        RunnableElsewhere = reading && state is not null && directory.PickSiloFor(state.Type) is not null,
        RetentionEndsAt = state is { Status: var status } && status.IsTerminal() ? retention.ExpiresAt(state) : null,
        Silo = RuntimeIdentity,
        SlotsUsed = reading ? runner.Running : 0,
        SlotsTotal = options.Value.MaxConcurrency,
    };

    /// <summary>
    /// Lets the activation go once idle, except while a handler of this job that ignored its token still runs: the
    /// activation stays (so a requeue or delete can be refused, and the next attempt waits) until that handler ends.
    /// </summary>
    private void DeactivateWhenIdle()
    {
        if (_abandoned is not { IsCompleted: false } abandoned)
        {
            DeactivateOnIdle();
            return;
        }

        _abandonedWatch ??= this.RegisterGrainTimer(() =>
        {
            if (abandoned.IsCompleted)
            {
                _abandonedWatch?.Dispose();
                _abandonedWatch = null;
                if (_pump is null && State is not { Status: JobStatus.Queued or JobStatus.Running })
                {
                    DeactivateOnIdle();
                }
            }

            return Task.CompletedTask;
        }, new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)) { KeepAlive = true, Interleave = true });
    }

    /// <summary>A wake-up tick or a recovery sweep's call: resumes a job that is due or stranded, unless this activation is already moving it.</summary>
    private async Task WakeAsync()
    {
        if (_pump is not null)
        {
            return;
        }

        // "No record" (which removes the wake-up for good) is decided only on a fresh read: a write whose reply was
        // lost may have stored a job this activation does not know about.
        if (_job.IsStale || State is null)
        {
            await _job.ReadAsync();
        }

        await ApplyAsync(new JobEvent.WakeUp(time.GetUtcNow()));
        StartPumpIfDue();
    }

    /// <summary>Reads storage again after a failed write, and lets a finished job whose retention has ended go.</summary>
    private async Task RefreshAsync()
    {
        if (await _job.RefreshIfStaleAsync())
        {
            _wakeUp.Forget();
        }

        var looked = new JobEvent.Looked(time.GetUtcNow());
        if (State is { } state && JobStateMachine.Apply(state, looked, Facts(state)) is JobTransition { Next: null })
        {
            await ApplyAsync(looked);
            LogExpired(Id, state.Type, retention.ExpiresAt(state) ?? looked.Now);
        }
    }

    /// <summary>Decides <paramref name="e"/> on the current state and, for a transition, carries out its effects in order.</summary>
    private async Task<JobDecision> ApplyAsync(JobEvent e)
    {
        await _transitions.WaitAsync();
        try
        {
            var decision = JobStateMachine.Apply(State, e, Facts(State));
            if (decision is JobTransition transition)
            {
                await ExecuteAsync(transition);
            }

            return decision;
        }
        finally
        {
            _transitions.Release();
        }
    }

    private async Task ExecuteAsync(JobTransition transition)
    {
        if (State is null && transition.Next is not null)
        {
            _wakeUp.AssumeAbsent();
        }

        // One change of the stored state (StoredState's contract), without a delegate: this runs several times per job.
        var before = _job.Begin();
        try
        {
            if (transition.Next is { } next)
            {
                _job.State = next;
            }

            foreach (var effect in transition.Effects)
            {
                switch (effect)
                {
                    case JobEffect.SetWakeUp set:
                        await _wakeUp.SetAsync(this, set.DueIn, options.Value.RecoveryInterval);
                        break;
                    case JobEffect.DeliverCallback deliver:
                        await DeliverCallbackAsync(deliver);
                        break;
                    case var _ when effect == JobEffect.WriteState:
                        await _job.WriteStateAsync();
                        break;
                    case var _ when effect == JobEffect.ClearWakeUp:
                        await ClearWakeUpAsync();
                        break;
                    case var _ when effect == JobEffect.ClearState:
                        await _job.ClearStateAsync();
                        break;
                    case var _ when effect == JobEffect.Deactivate:
                        DeactivateWhenIdle();
                        break;
                    case var _ when effect == JobEffect.Relocate:
                        Relocate();
                        break;
                }
            }
        }
        catch
        {
            // Storage may or may not have taken the write (a lost reply): memory is back to what was there and is read
            // again before the next decision; let this activation go.
            _job.Fail(before);
            _wakeUp.Forget();
            DeactivateOnIdle();
            throw;
        }
        finally
        {
            _job.End();
        }
    }

    private async Task DeliverCallbackAsync(JobEffect.DeliverCallback deliver)
    {
        if (await webhooks.TryEnqueueAsync(GrainFactory, Id, _job.State))
        {
            await ClearWakeUpAsync();
            return;
        }

        // Not enqueued: keep the wake-up, ticking soon, so its tick enqueues the delivery.
        try
        {
            await _wakeUp.SetAsync(this, deliver.KeepWakeUpIn, options.Value.RecoveryInterval);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The old wake-up is still registered (or the write went through): a later tick enqueues it.
            webhooks.LogWakeUpNotMoved(ex, Id);
        }
    }

    /// <summary>Checks the request against the job types of this silo or, in a rolling deploy, of one that has the type.</summary>
    private async Task<JobRequestCheck> CheckAsync(EnqueueRequest request, DateTimeOffset now)
    {
        var check = webhooks.Check(await directory.CheckAsync(registry, GrainFactory, request, now));
        if (JobId.Validate(Id) is { } idProblem)
        {
            check = check with { Errors = new Dictionary<string, string[]>(check.Errors) { ["id"] = [idProblem] } };
        }

        return check;
    }

    private async Task ClearWakeUpAsync()
    {
        if (await _wakeUp.RemoveAsync(this) is { } notCleared)
        {
            LogWakeUpNotCleared(notCleared, Id);
        }
    }

    private JobSnapshot Snapshot(JobState state) => JobSnapshots.Of(Id, state, retention.ExpiresAt(state));
}
