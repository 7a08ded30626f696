using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime.Placement;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansTasks.Jobs.Bulk;
using OrleansTasks.Observability;

namespace OrleansTasks.Jobs;

/// <summary>
/// One job. Its state lives in grain storage (Redis in production) and, while it is not terminal, a reminder
/// ("wake-up") in the reminder table is its durable promise to run: whichever silo owns the reminder after a crash
/// re-activates the grain, which resumes from the stored state. In between, a background "pump" on the grain's own
/// scheduler drives the attempts; grain calls (queries, duplicate enqueues) interleave with it and never wait for a
/// handler, because handlers run on the thread pool (<see cref="JobRunner"/>).
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
    private const string WakeUpReminder = "wake-up";

    // A retry or delayed start this close is awaited in memory (precise to milliseconds) with the activation kept
    // alive; a later one lets the activation go and relies on the reminder alone.
    private static readonly TimeSpan KeepWarmLimit = TimeSpan.FromMinutes(1);

    private Task? _pump;
    private CancellationTokenSource? _handOff;
    private IGrainReminder? _wakeUp;

    // True while this activation knows the job has no wake-up (it created the job without one, or removed it): most
    // jobs never have one, and asking the reminder table would cost a round trip per finished job.
    private bool _noWakeUp;

    // Set when a write failed: storage may or may not hold it, so memory is not trusted until read again.
    private bool _stale;

    // The worker slot held for the attempt this activation began, and when that attempt was planned to start.
    private IDisposable? _slot;
    private DateTimeOffset? _plannedStart;

    // A handler of this job that ignored its token and still runs; the next attempt here waits for it.
    private Task? _abandoned;

    // While a transition's writes are in flight, queries see the state before it: a write that fails must never
    // have been shown.
    private (bool Active, JobState? Before) _writing;

    // Transitions come from the pump and from client calls (cancel, requeue, delete), interleaved at awaits: one at a
    // time, each decided on the state the previous one left.
    private readonly SemaphoreSlim _transitions = new(1, 1);

    // Fires the running attempt's cancellation when a client cancels the job.
    private CancellationTokenSource? _attemptCancel;

    // Keeps the activation while an abandoned handler of this job still runs.
    private IGrainTimer? _abandonedWatch;

    private JobState? State => job.RecordExists ? job.State : null;

    private string Id => this.GetPrimaryKeyString();

    private TimeSpan RecoveryInterval => options.Value.RecoveryInterval;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A job found mid-flight in storage resumes at once (its old silo is gone or it would not activate here),
        // rather than at the next reminder tick.
        StartPumpIfDue();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_pump is { } pump && _handOff is { } handOff)
        {
            // Graceful stop: cancel the running handler or the wait for a slot, and let the pump record the
            // hand-off, so the job is rescheduled elsewhere now instead of after failure detection.
            await handOff.CancelAsync();
            await pump.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async Task<EnqueueResult> EnqueueAsync(EnqueueRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        await RefreshIfStaleAsync();
        if (State is { } existing)
        {
            return IsSameJob(existing, request)
                ? new EnqueueResult { Outcome = EnqueueOutcome.Existing, Snapshot = Snapshot(existing) }
                : new EnqueueResult
                {
                    Outcome = EnqueueOutcome.Conflict,
                    Snapshot = Snapshot(existing),
                    Detail = $"Job '{Id}' already exists with a different type or payload.",
                };
        }

        if (headroom.Last is { AboveWatermark: true } reading)
        {
            // A new job would take memory the accepted ones need to finish; nothing is written.
            DeactivateOnIdle();
            throw new JobStorageFullException(reading.Reason);
        }

        var now = time.GetUtcNow();
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
        await RefreshIfStaleAsync();
        var visible = _writing.Active ? _writing.Before : State;
        if (visible is not { } state || (state.Status.IsTerminal() && _pump is null))
        {
            // Lookups of finished or unknown jobs must not pile up activations.
            DeactivateWhenIdle();
        }

        return visible is { } current ? Snapshot(current) : null;
    }

    public async Task<JobCommandResult> CancelAsync()
    {
        await RefreshIfStaleAsync();
        while (true)
        {
            switch (State)
            {
                case null:
                    return NotFound();
                case { Status: JobStatus.Cancelled } cancelled:
                    return new JobCommandResult { Outcome = JobCommandOutcome.Done, Snapshot = Snapshot(cancelled) };
                case { Status: JobStatus.Succeeded or JobStatus.Failed } finished:
                    return Conflict(finished, $"Job '{Id}' already {finished.Status.ToWireName()}; only a waiting or running job can be cancelled.");
            }

            // The pump may finish the attempt first; then decide again on what it left.
            if (await TryApplyAsync(new JobEvent.CancelRequested(time.GetUtcNow())))
            {
                break;
            }
        }

        var state = State!;
        if (state.Status == JobStatus.Cancelled)
        {
            // It was waiting: stop the pump's wait (for its time or a slot); nothing runs.
            LogCancelled(Id, state.Type);
            await (_handOff?.CancelAsync() ?? Task.CompletedTask);
            return new JobCommandResult { Outcome = JobCommandOutcome.Done, Snapshot = Snapshot(state) };
        }

        LogCancelRequested(Id, state.Type, state.Attempts);
        await (_attemptCancel?.CancelAsync() ?? Task.CompletedTask);
        return new JobCommandResult { Outcome = JobCommandOutcome.Accepted, Snapshot = Snapshot(state) };
    }

    public async Task<JobCommandResult> RequeueAsync()
    {
        await RefreshIfStaleAsync();
        if (RefuseUnlessFinished("requeued") is { } refused)
        {
            return refused;
        }

        if (!await TryApplyAsync(new JobEvent.Requeued(time.GetUtcNow())))
        {
            return RefuseUnlessFinished("requeued") ?? throw new InvalidOperationException("A finished job refused a requeue.");
        }

        var state = State!;
        LogRequeued(Id, state.Type, state.Round);
        StartPumpIfDue();
        return new JobCommandResult { Outcome = JobCommandOutcome.Done, Snapshot = Snapshot(state) };
    }

    public async Task<JobCommandResult> DeleteAsync()
    {
        await RefreshIfStaleAsync();
        if (RefuseUnlessFinished("deleted") is { } refused)
        {
            return refused;
        }

        var type = State!.Type;
        if (!await TryApplyAsync(new JobEvent.Deleted(time.GetUtcNow())))
        {
            return RefuseUnlessFinished("deleted") ?? throw new InvalidOperationException("A finished job refused a delete.");
        }

        LogDeleted(Id, type);
        return new JobCommandResult { Outcome = JobCommandOutcome.Done };
    }

    private JobCommandResult? RefuseUnlessFinished(string what) => State switch
    {
        null => NotFound(),
        { Status: var status } state when !status.IsTerminal() =>
            Conflict(state, $"Job '{Id}' is {status.ToWireName()}; only a finished job can be {what} (cancel it first)."),
        { } state when _abandoned is { IsCompleted: false } =>
            Conflict(state, $"Job '{Id}' was cancelled or timed out but its handler still runs (it ignored its token); it can be {what} once the handler ends."),
        _ => null,
    };

    private JobCommandResult NotFound()
    {
        DeactivateOnIdle();
        return new JobCommandResult { Outcome = JobCommandOutcome.NotFound, Detail = $"No job has the id '{Id}'." };
    }

    private JobCommandResult Conflict(JobState state, string detail) =>
        new() { Outcome = JobCommandOutcome.Conflict, Snapshot = Snapshot(state), Detail = detail };

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

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        _noWakeUp = false;
        return WakeAsync();
    }

    public Task RecoverAsync() => WakeAsync();

    /// <summary>A wake-up tick or a recovery sweep's call: resumes a job that is due or stranded, unless this activation is already moving it.</summary>
    private async Task WakeAsync()
    {
        if (_pump is not null)
        {
            return;
        }

        // "No record" (which removes the wake-up for good) is decided only on a fresh read: a write whose reply was
        // lost may have stored a job this activation does not know about.
        if (_stale || State is null)
        {
            await job.ReadStateAsync();
            _stale = false;
        }

        await ApplyAsync(new JobEvent.WakeUp(time.GetUtcNow()));
        StartPumpIfDue();
    }

    private async Task RefreshIfStaleAsync()
    {
        if (_stale)
        {
            await job.ReadStateAsync();
            _wakeUp = null;
            _noWakeUp = false;
            _stale = false;
        }

        // Past its retention a finished job is gone, whether or not the sweeper has reached it in storage yet; a
        // handler of it that ignored its token keeps it until it ends.
        if (State is { } state && state.Status.IsTerminal() && _pump is null && _abandoned is not { IsCompleted: false }
            && retention.ExpiresAt(state) is { } expiresAt && expiresAt <= time.GetUtcNow())
        {
            await ApplyAsync(new JobEvent.Expired(time.GetUtcNow()));
            LogExpired(Id, state.Type, expiresAt);
        }
    }

    /// <summary>Moves the job by <paramref name="e"/> and carries out the effects in order.</summary>
    private async Task ApplyAsync(JobEvent e)
    {
        await _transitions.WaitAsync();
        try
        {
            await ApplyUnderLockAsync(e);
        }
        finally
        {
            _transitions.Release();
        }
    }

    private async Task ApplyUnderLockAsync(JobEvent e)
    {
        var transition = JobStateMachine.Apply(State, e, RecoveryInterval);
        var before = job.State;
        if (State is null && transition.Next is not null)
        {
            // A new job: no wake-up of this id is known (a stray one from an earlier job of the same id removes
            // itself when it ticks on a finished job).
            _noWakeUp = _wakeUp is null;
        }

        _writing = (true, State);
        if (transition.Next is { } next)
        {
            job.State = next;
        }

        try
        {
            var deliveryMissing = false;
            foreach (var effect in transition.Effects)
            {
                switch (effect)
                {
                    case JobEffect.SetWakeUp set:
                        await SetWakeUpAsync(set.DueIn);
                        break;
                    case var _ when effect == JobEffect.WriteState:
                        BumpVersion();
                        await job.WriteStateAsync();
                        break;
                    case var _ when effect == JobEffect.EnqueueCallback:
                        deliveryMissing = !await webhooks.TryEnqueueAsync(GrainFactory, Id, job.State);
                        break;
                    case var _ when effect == JobEffect.ClearWakeUp && deliveryMissing:
                        await KeepWakeUpForDeliveryAsync();
                        break;
                    case var _ when effect == JobEffect.ClearWakeUp:
                        await ClearWakeUpAsync();
                        break;
                    case var _ when effect == JobEffect.ClearState:
                        await job.ClearStateAsync();
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
            // Storage may or may not have taken the write (a lost reply): memory must never run ahead of it. Go back
            // to what was there, read storage again before the next decision, and let this activation go.
            job.State = before;
            _stale = true;
            _wakeUp = null;
            _noWakeUp = false;
            DeactivateOnIdle();
            throw;
        }
        finally
        {
            _writing = default;
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

    private bool IsSameJob(JobState state, EnqueueRequest request)
    {
        if (!string.Equals(request.Type, state.Type, StringComparison.Ordinal))
        {
            return false;
        }

        // Compare canonical forms, so {"Email": ...} and { "email" : ... } are the same payload. A silo that does not
        // know the type (a rolling deploy) compares the JSON as sent.
        var canonical = registry.TryGet(state.Type, out var definition)
            ? PayloadValidator.Validate(definition.PayloadType, request.PayloadJson ?? string.Empty).CanonicalJson
            : request.PayloadJson;
        return canonical is not null && JsonNode.DeepEquals(ParseOrNull(canonical), ParseOrNull(state.PayloadJson));
    }

    private static JsonNode? ParseOrNull(string json)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private void StartPumpIfDue()
    {
        if (_pump is not null || State is not { } state)
        {
            return;
        }

        var due = state.Status switch
        {
            JobStatus.Queued or JobStatus.Running => true,
            JobStatus.Scheduled or JobStatus.Retrying => state.NextAttemptAt is not { } at || at - time.GetUtcNow() <= KeepWarmLimit,
            _ => false,
        };
        if (due)
        {
            _handOff = new CancellationTokenSource();
            _pump = PumpAsync(_handOff.Token);
        }
    }

    private async Task PumpAsync(CancellationToken handOff)
    {
        // Leave the caller's turn first: the pump is background work on this grain's scheduler, not part of a call.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.ForceYielding);

        // Background work does not keep an activation alive by itself (idle collection would drop it mid-handler);
        // a KeepAlive timer's ticks count as activity, so tick well within the collection age until the pump ends.
        var keepAlivePeriod = collection.Value.CollectionAge / 3;
        using var keepAlive = this.RegisterGrainTimer(static () => Task.CompletedTask,
            new GrainTimerCreationOptions(keepAlivePeriod, keepAlivePeriod) { KeepAlive = true, Interleave = true });
        try
        {
            while (await StepAsync(handOff))
            {
            }
        }
        catch (OperationCanceledException) when (handOff.IsCancellationRequested && State is not { Status: JobStatus.Running })
        {
            // Shutting down while waiting for a slot or for the job's time: hand the job on. (A job cancelled while
            // it waited stops its pump the same way; it has nothing to hand on.)
            if (State is { Status: JobStatus.Queued or JobStatus.Scheduled or JobStatus.Retrying })
            {
                await ApplyAsync(new JobEvent.HandedOff(time.GetUtcNow()));
            }
        }
        catch (Exception ex)
        {
            // Most likely storage is unreachable. ApplyAsync has already put memory back and dropped the activation;
            // the next reminder tick re-activates the job from storage and carries on.
            LogPumpFailed(ex, Id);
            DeactivateOnIdle();
        }
        finally
        {
            ReleaseSlot();
            _pump = null;
            _handOff?.Dispose();
            _handOff = null;
        }
    }

    /// <summary>Moves the job one step; false when there is nothing more to do in this activation.</summary>
    private async Task<bool> StepAsync(CancellationToken handOff)
    {
        if (State is not { } state)
        {
            return false;
        }

        switch (state.Status)
        {
            case JobStatus.Running when _slot is not null:
                // Runs even when the hand-off has already fired, so the begun attempt is recorded as handed off
                // rather than left "running" for a recovery tick to count as interrupted.
                await ExecuteAttemptAsync(state, handOff);
                return !handOff.IsCancellationRequested;

            case JobStatus.Running:
                // Stored as running, yet this activation never began it: the silo that ran it died mid-attempt.
                LogInterrupted(Id, state.Type, state.Attempts);
                metrics.AttemptInterrupted(state.Type);
                await ApplyAsync(new JobEvent.Interrupted(time.GetUtcNow()));
                return true;

            case JobStatus.Scheduled or JobStatus.Retrying:
                var due = state.NextAttemptAt ?? time.GetUtcNow();
                if (due - time.GetUtcNow() > KeepWarmLimit && _abandoned is not { IsCompleted: false })
                {
                    // Far off: free the memory; the reminder brings the job back when it is due.
                    DeactivateOnIdle();
                    return false;
                }

                // Timers may fire a little early; never start before the promised time.
                for (var wait = due - time.GetUtcNow(); wait > TimeSpan.Zero; wait = due - time.GetUtcNow())
                {
                    await Task.Delay(Min(wait + TimeSpan.FromMilliseconds(1), KeepWarmLimit), time, handOff);
                }

                // A client's command (a cancel) may have moved the job meanwhile: decide again on the state now.
                return !ReferenceEquals(State, state) || await TryApplyAsync(new JobEvent.Due(time.GetUtcNow()));

            case JobStatus.Queued when !registry.TryGet(state.Type, out _):
                LogNotRunnableHere(Id, state.Type, RuntimeIdentity);
                await ApplyAsync(new JobEvent.NotRunnableHere(time.GetUtcNow()));
                return false;

            case JobStatus.Queued:
                if (_abandoned is { IsCompleted: false } abandoned)
                {
                    // Never run an attempt beside the previous one's handler that still runs.
                    await abandoned.WaitAsync(handOff);
                }

                var slot = await runner.AcquireSlotAsync(handOff);
                try
                {
                    if (!ReferenceEquals(State, state) || !await TryApplyAsync(new JobEvent.SlotAcquired(time.GetUtcNow(), RuntimeIdentity)))
                    {
                        // Moved on while waiting for the slot (cancelled): give the slot back and decide again.
                        slot.Dispose();
                        return true;
                    }
                }
                catch
                {
                    slot.Dispose();
                    throw;
                }

                _slot = slot;
                _plannedStart = state.NextAttemptAt;
                LogStarted(Id, state.Type, State!.Attempts, RuntimeIdentity);
                return true;

            default:
                await ApplyAsync(new JobEvent.WakeUp(time.GetUtcNow()));
                return false;
        }
    }

    /// <summary>True when <paramref name="e"/> applied; false when the job had meanwhile moved to a state it does not fit.</summary>
    private async Task<bool> TryApplyAsync(JobEvent e)
    {
        try
        {
            await ApplyAsync(e);
            return true;
        }
        catch (InvalidJobTransitionException)
        {
            return false;
        }
    }

    /// <summary>Runs the begun (and stored) attempt in the slot this activation holds, then stores the outcome.</summary>
    private async Task ExecuteAttemptAsync(JobState state, CancellationToken handOff)
    {
        var slot = _slot!;
        _slot = null;
        var progress = NewProgressReporter(state);
        var context = new JobContext(Id, state.Type, state.Attempts, state.Policy.MaxRetries)
        {
            PlannedStart = _plannedStart,
            LastProgress = state.Progress,
            ProgressSink = progress,
        };
        using var trace = JobTracing.BeginAttempt(logger, Id, state, state.Attempts);
        using var cancel = new CancellationTokenSource();
        _attemptCancel = cancel;
        if (State?.CancelRequestedAt is not null)
        {
            // Cancelled between the slot and the start.
            await cancel.CancelAsync();
        }

        AttemptResult result;
        JobProgress? pending;
        try
        {
            result = registry.TryGet(state.Type, out var definition)
                ? await runner.RunAsync(definition, state.PayloadJson, context, state.Policy.Timeout, slot, handOff, cancel.Token)
                : throw new InvalidOperationException($"No handler for '{state.Type}'.");
        }
        finally
        {
            _attemptCancel = null;
            pending = progress.Close();
        }

        _abandoned = result.Abandoned;
        trace.Ended(result);

        await ApplyAsync(new JobEvent.AttemptFinished(time.GetUtcNow(), result, Random.Shared.NextDouble()) { Progress = pending });
        var after = State!;
        var attempt = after.History[^1];
        switch (result.Outcome)
        {
            case var _ when after.Status == JobStatus.Cancelled:
                LogCancelled(Id, after.Type);
                break;
            case AttemptOutcome.Succeeded:
                LogSucceeded(Id, after.Type, after.Attempts, (attempt.FinishedAt!.Value - attempt.StartedAt).TotalMilliseconds);
                break;
            case AttemptOutcome.HandedOff:
                LogHandedOff(Id, after.Type);
                break;
            case var _ when after.Status == JobStatus.Failed:
                LogFailed(Id, after.Type, after.Attempts, result.Error!.Type, result.Error.Message, result.Permanent);
                break;
            default:
                LogAttemptFailed(Id, after.Type, after.Attempts, result.Error!.Type, result.Error.Message, after.NextAttemptAt ?? time.GetUtcNow());
                break;
        }
    }

    /// <summary>
    /// Moves the activation to a silo that has the job's type, or, when none is up, lets it go: the wake-up
    /// re-activates it every recovery interval until a silo with the type has joined.
    /// </summary>
    private void Relocate()
    {
        if (State is { } state && directory.PickSiloFor(state.Type) is { } silo)
        {
            RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
            this.MigrateOnIdle();
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
        else
        {
            DeactivateOnIdle();
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private void ReleaseSlot()
    {
        _slot?.Dispose();
        _slot = null;
    }

    private async Task SetWakeUpAsync(TimeSpan dueTime)
    {
        // A zero due time skips the first tick (dotnet/orleans#9385), hence the 1 ms floor.
        var due = dueTime < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : dueTime;
        _noWakeUp = false;
        _wakeUp = await this.RegisterOrUpdateReminder(WakeUpReminder, due, RecoveryInterval);
    }

    private async Task ClearWakeUpAsync()
    {
        if (_noWakeUp && _wakeUp is null)
        {
            return;
        }

        try
        {
            _wakeUp ??= await this.GetReminder(WakeUpReminder);
            if (_wakeUp is not null)
            {
                await this.UnregisterReminder(_wakeUp);
                _wakeUp = null;
            }

            _noWakeUp = true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Harmless: the reminder's next tick sees a terminal job and tries again.
            _wakeUp = null;
            LogWakeUpNotCleared(ex, Id);
        }
    }

    /// <summary>
    /// The finished job's webhook delivery could not be enqueued: keep the wake-up, ticking soon (a cancelled retry's
    /// wake-up may be due days ahead), so the next tick enqueues it.
    /// </summary>
    private async Task KeepWakeUpForDeliveryAsync()
    {
        try
        {
            await SetWakeUpAsync(RecoveryInterval);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The old wake-up is still registered (or the write went through): a later tick enqueues the delivery.
            _wakeUp = null;
            webhooks.LogWakeUpNotMoved(ex, Id);
        }
    }

    private JobSnapshot Snapshot(JobState state) => new()
    {
        Id = Id,
        Type = state.Type,
        Status = state.Status,
        PayloadJson = state.PayloadJson,
        Attempts = state.Attempts,
        Policy = state.Policy,
        CreatedAt = state.CreatedAt,
        ScheduledFor = state.ScheduledFor,
        StartedAt = state.StartedAt,
        FinishedAt = state.FinishedAt,
        NextAttemptAt = state.NextAttemptAt,
        LastError = state.LastError,
        ResultJson = state.ResultJson,
        History = state.History,
        Round = state.Round,
        CancelRequestedAt = state.CancelRequestedAt,
        ExpiresAt = retention.ExpiresAt(state),
        CallbackUrl = state.CallbackUrl,
        Progress = state.Progress,
        Version = state.Version,
    };
}

/// <summary>Answers job-type questions from the local registry on whichever silo receives the call.</summary>
[StatelessWorker]
[GrainType("jobtypes")]
public sealed class JobTypesGrain(JobTypeRegistry registry) : Grain, IJobTypesGrain
{
    public Task<IReadOnlyList<JobTypeInfo>> GetJobTypesAsync() =>
        Task.FromResult<IReadOnlyList<JobTypeInfo>>([.. registry.All.Select(t => t.ToInfo())]);
}

/// <summary>Names of the storage providers the grains use.</summary>
public static class StorageNames
{
    /// <summary>Grain storage holding job state.</summary>
    public const string Jobs = "jobs";

    /// <summary>Grain storage holding recurring schedules (the stock provider: no indexes needed).</summary>
    public const string Schedules = "schedules";

    /// <summary>Grain storage holding bulk operations (<see cref="BulkOperationGrain"/>).</summary>
    public const string Operations = "operations";
}
