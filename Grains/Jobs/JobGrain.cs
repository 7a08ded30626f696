using Orleans.Concurrency;
using Orleans.Placement;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

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
public sealed partial class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> job,
    JobTypeRegistry registry,
    JobRunner runner,
    IOptions<JobsOptions> options,
    IOptions<GrainCollectionOptions> collection,
    TimeProvider time,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IRemindable
{
    private const string WakeUpReminder = "wake-up";

    // A retry or delayed start this close is awaited in memory (precise to milliseconds) with the activation kept
    // alive; a later one lets the activation go and relies on the reminder alone.
    private static readonly TimeSpan KeepWarmLimit = TimeSpan.FromMinutes(1);

    private Task? _pump;
    private CancellationTokenSource? _handOff;
    private IGrainReminder? _wakeUp;

    // The worker slot held for the attempt this activation began, and when that attempt was planned to start.
    private IDisposable? _slot;
    private DateTimeOffset? _plannedStart;

    private JobState State => job.State;

    private string Id => this.GetPrimaryKeyString();

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
            // Graceful stop: cancel the running handler and let the pump record a hand-off, so the job is
            // rescheduled elsewhere now instead of after failure detection.
            await handOff.CancelAsync();
            await pump.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async Task<EnqueueResult> EnqueueAsync(EnqueueRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (job.RecordExists)
        {
            return IsSameJob(request)
                ? new EnqueueResult { Outcome = EnqueueOutcome.Existing, Snapshot = Snapshot() }
                : new EnqueueResult
                {
                    Outcome = EnqueueOutcome.Conflict,
                    Snapshot = Snapshot(),
                    Detail = $"Job '{Id}' already exists with a different type or payload.",
                };
        }

        var now = time.GetUtcNow();
        var (definition, canonicalPayload, policy, errors) = Validate(request, now);
        if (errors.Count > 0)
        {
            // Nothing was written; do not keep an empty activation around either.
            DeactivateOnIdle();
            return EnqueueResult.Invalid(
                errors.ContainsKey("type") ? "Unknown job type." : "The job request is invalid.", errors);
        }

        var runAt = request.Options.FirstRunAt(now);
        var delayed = runAt > now;
        State.Type = definition!.Name;
        State.PayloadJson = canonicalPayload!;
        State.Policy = policy!;
        State.Status = delayed ? JobStatus.Scheduled : JobStatus.Queued;
        State.CreatedAt = now;
        State.ScheduledFor = runAt;
        State.NextAttemptAt = runAt;

        // A free worker slot (and nobody waiting for one) lets the first attempt begin in this same write, saving
        // the separate "queued" write. Stored as running, a crash now counts the attempt exactly as one mid-handler.
        if (!delayed && runner.Waiting == 0 && runner.TryAcquireSlot() is { } slot)
        {
            _slot = slot;
            BeginAttempt();
        }

        // Wake-up first, state second: a wake-up without state cleans itself up on its first tick, while state
        // without a wake-up would be a job nobody runs after a crash.
        try
        {
            await SetWakeUpAsync(delayed ? runAt - now : options.Value.RecoveryInterval);
            await job.WriteStateAsync();
        }
        catch
        {
            ReleaseSlot();
            throw;
        }

        LogEnqueued(Id, State.Type, State.Status, runAt);
        if (_slot is not null)
        {
            LogStarted(Id, State.Type, State.Attempts, RuntimeIdentity);
        }

        StartPumpIfDue();
        if (_pump is null)
        {
            // Scheduled far ahead: nothing to do in memory until the reminder fires.
            DeactivateOnIdle();
        }
        return new EnqueueResult { Outcome = EnqueueOutcome.Created, Snapshot = Snapshot() };
    }

    public Task<JobSnapshot?> GetSnapshotAsync()
    {
        if (!job.RecordExists || (State.Status.IsTerminal() && _pump is null))
        {
            // Lookups of finished or unknown jobs must not pile up activations.
            DeactivateOnIdle();
        }

        return Task.FromResult(job.RecordExists ? Snapshot() : null);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_pump is not null)
        {
            return;
        }

        if (!job.RecordExists || State.Status.IsTerminal())
        {
            await ClearWakeUpAsync();
            DeactivateOnIdle();
            return;
        }

        StartPumpIfDue();
    }

    private (JobTypeDefinition? Definition, string? Payload, JobPolicy? Policy, Dictionary<string, string[]> Errors) Validate(
        EnqueueRequest request, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (JobId.Validate(Id) is { } idProblem)
        {
            errors["id"] = [idProblem];
        }

        if (!registry.TryGet(request.Type ?? string.Empty, out var definition))
        {
            errors["type"] = [$"'{request.Type}' is not a registered job type. Known types: {string.Join(", ", registry.All.Select(t => t.Name))}."];
            return (null, null, null, errors);
        }

        var (payload, payloadErrors) = PayloadValidator.Validate(definition.PayloadType, request.PayloadJson ?? string.Empty);
        var policy = definition.Defaults.With(request.Options);
        foreach (var problems in new[] { payloadErrors, policy.Validate(), request.Options.ValidateSchedule(now) })
        {
            foreach (var (field, messages) in problems)
            {
                errors[field] = messages;
            }
        }

        return (definition, payload, policy, errors);
    }

    private bool IsSameJob(EnqueueRequest request)
    {
        if (!string.Equals(request.Type, State.Type, StringComparison.Ordinal) || !registry.TryGet(State.Type, out var definition))
        {
            return false;
        }

        // Compare canonical forms, so {"Email": ...} and { "email" : ... } are the same payload.
        var (canonical, _) = PayloadValidator.Validate(definition.PayloadType, request.PayloadJson ?? string.Empty);
        return canonical is not null && JsonNode.DeepEquals(JsonNode.Parse(canonical), JsonNode.Parse(State.PayloadJson));
    }

    private void StartPumpIfDue()
    {
        if (_pump is not null || !job.RecordExists)
        {
            return;
        }

        var due = State.Status switch
        {
            JobStatus.Queued or JobStatus.Running => true,
            JobStatus.Scheduled or JobStatus.Retrying => State.NextAttemptAt is not { } at || at - time.GetUtcNow() <= KeepWarmLimit,
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
            while (!handOff.IsCancellationRequested && await StepAsync(handOff))
            {
            }
        }
        catch (OperationCanceledException) when (handOff.IsCancellationRequested)
        {
            // Shutting down while waiting. A queued job must not wait for its next recovery tick: bring its
            // wake-up forward so another silo picks it up now. (Retries and delayed starts keep their time.)
            if (State.Status == JobStatus.Queued)
            {
                await SetWakeUpAsync(TimeSpan.FromSeconds(1));
            }
        }
        catch (Exception ex)
        {
            // Most likely storage is unreachable. In-memory state may now be ahead of what is stored, so drop this
            // activation; the next reminder tick re-activates from storage and carries on.
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
        switch (State.Status)
        {
            case JobStatus.Running when _slot is not null:
                await ExecuteAttemptAsync(handOff);
                return true;

            case JobStatus.Running:
                // Stored as running, yet this activation never began it: the silo that ran it died mid-attempt.
                await RecordInterruptedAttemptAsync();
                return true;

            case JobStatus.Scheduled or JobStatus.Retrying:
                var due = State.NextAttemptAt ?? time.GetUtcNow();
                if (due - time.GetUtcNow() > KeepWarmLimit)
                {
                    // Far off: free the memory; the reminder brings the job back when it is due.
                    DeactivateOnIdle();
                    return false;
                }

                // Timers may fire a little early; never start before the promised time.
                for (var wait = due - time.GetUtcNow(); wait > TimeSpan.Zero; wait = due - time.GetUtcNow())
                {
                    await Task.Delay(wait + TimeSpan.FromMilliseconds(1), time, handOff);
                }

                // Not persisted: the "running" write that follows is, and until then the stored due state resumes the same way.
                State.Status = JobStatus.Queued;
                return true;

            case JobStatus.Queued when !registry.TryGet(State.Type, out _):
                await FinishAsync(JobStatus.Failed, null, new JobError("UnknownJobType", $"No handler is registered for '{State.Type}' on this silo."));
                return false;

            case JobStatus.Queued:
                _slot = await runner.AcquireSlotAsync(handOff);
                BeginAttempt();
                await job.WriteStateAsync();
                LogStarted(Id, State.Type, State.Attempts, RuntimeIdentity);
                return true;

            default:
                await ClearWakeUpAsync();
                DeactivateOnIdle();
                return false;
        }
    }

    /// <summary>Marks a new attempt as begun (not yet stored): counted now, so a crash mid-attempt uses up a retry.</summary>
    private void BeginAttempt()
    {
        var now = time.GetUtcNow();
        _plannedStart = State.NextAttemptAt;
        State.Attempts++;
        State.History.Add(new JobAttempt(State.History.Count + 1, now, null, AttemptOutcome.Running, null, RuntimeIdentity));
        State.Status = JobStatus.Running;
        State.StartedAt ??= now;
        State.NextAttemptAt = null;
    }

    /// <summary>Runs the begun (and stored) attempt in the slot this activation holds, then stores the outcome.</summary>
    private async Task ExecuteAttemptAsync(CancellationToken handOff)
    {
        var definition = registry.TryGet(State.Type, out var found) ? found : throw new InvalidOperationException($"No handler for '{State.Type}'.");
        var attempt = State.History[^1];
        var context = new JobContext(Id, State.Type, State.Attempts, State.Policy.MaxRetries) { PlannedStart = _plannedStart };
        AttemptResult result;
        try
        {
            result = await runner.RunAsync(definition, State.PayloadJson, context, State.Policy.Timeout, handOff);
        }
        finally
        {
            // Free the slot before the outcome's write: the next job need not wait for it.
            ReleaseSlot();
        }

        var finished = attempt with { FinishedAt = time.GetUtcNow(), Outcome = result.Outcome, Error = result.Error };
        State.History[^1] = finished;
        switch (result.Outcome)
        {
            case AttemptOutcome.Succeeded:
                LogSucceeded(Id, State.Type, State.Attempts, (finished.FinishedAt!.Value - finished.StartedAt).TotalMilliseconds);
                await FinishAsync(JobStatus.Succeeded, result.ResultJson, null);
                break;

            case AttemptOutcome.HandedOff:
                // Not the job's fault: the attempt does not count, and the job is due again at once elsewhere.
                State.Attempts--;
                State.Status = JobStatus.Queued;
                State.NextAttemptAt = time.GetUtcNow();
                await job.WriteStateAsync();
                await SetWakeUpAsync(TimeSpan.FromSeconds(1));
                LogHandedOff(Id, State.Type);
                break;

            default:
                await FailAttemptAsync(result.Error!, result.Permanent, retryAtOnce: false);
                break;
        }
    }

    private void ReleaseSlot()
    {
        _slot?.Dispose();
        _slot = null;
    }

    private Task RecordInterruptedAttemptAsync()
    {
        var error = new JobError("AttemptInterrupted", "The silo running this attempt stopped before the attempt reported back.");
        if (State.History is [.., { Outcome: AttemptOutcome.Running } last])
        {
            State.History[^1] = last with { FinishedAt = time.GetUtcNow(), Outcome = AttemptOutcome.Interrupted, Error = error };
        }

        LogInterrupted(Id, State.Type, State.Attempts);

        // The interrupted attempt was counted when it started; re-run at once (the job did nothing wrong that a
        // backoff would help), unless it has used up its attempts, which stops a job that kills silos from looping.
        return FailAttemptAsync(error, permanent: false, retryAtOnce: true);
    }

    private async Task FailAttemptAsync(JobError error, bool permanent, bool retryAtOnce)
    {
        State.LastError = error;
        if (permanent || State.Attempts > State.Policy.MaxRetries)
        {
            LogFailed(Id, State.Type, State.Attempts, error.Type, error.Message, permanent);
            await FinishAsync(JobStatus.Failed, null, error);
            return;
        }

        var delay = retryAtOnce ? TimeSpan.Zero : Backoff.Delay(State.Attempts, State.Policy, Random.Shared.NextDouble());
        var next = time.GetUtcNow() + delay;
        State.Status = retryAtOnce ? JobStatus.Queued : JobStatus.Retrying;
        State.NextAttemptAt = next;
        await job.WriteStateAsync();
        if (!retryAtOnce)
        {
            await SetWakeUpAsync(delay);
        }

        LogAttemptFailed(Id, State.Type, State.Attempts, error.Type, error.Message, next);
    }

    private async Task FinishAsync(JobStatus status, string? resultJson, JobError? error)
    {
        State.Status = status;
        State.ResultJson = resultJson;
        State.LastError = error ?? State.LastError;
        State.FinishedAt = time.GetUtcNow();
        State.NextAttemptAt = null;

        // State first: if we die before the reminder is gone, its next tick finds a terminal job and removes it.
        await job.WriteStateAsync();
        await ClearWakeUpAsync();
        DeactivateOnIdle();
    }

    private async Task SetWakeUpAsync(TimeSpan dueTime)
    {
        // A zero due time skips the first tick (dotnet/orleans#9385), hence the 1 ms floor.
        var due = dueTime < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : dueTime;
        _wakeUp = await this.RegisterOrUpdateReminder(WakeUpReminder, due, options.Value.RecoveryInterval);
    }

    private async Task ClearWakeUpAsync()
    {
        try
        {
            _wakeUp ??= await this.GetReminder(WakeUpReminder);
            if (_wakeUp is not null)
            {
                await this.UnregisterReminder(_wakeUp);
                _wakeUp = null;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Harmless: the reminder's next tick sees a terminal job and tries again.
            _wakeUp = null;
            LogWakeUpNotCleared(ex, Id);
        }
    }

    private JobSnapshot Snapshot() => new()
    {
        Id = Id,
        Type = State.Type,
        Status = State.Status,
        PayloadJson = State.PayloadJson,
        Attempts = State.Attempts,
        Policy = State.Policy,
        CreatedAt = State.CreatedAt,
        ScheduledFor = State.ScheduledFor,
        StartedAt = State.StartedAt,
        FinishedAt = State.FinishedAt,
        NextAttemptAt = State.NextAttemptAt,
        LastError = State.LastError,
        ResultJson = State.ResultJson,
        History = [.. State.History],
    };
}

/// <summary>Answers job-type questions from the local registry on whichever silo receives the call.</summary>
[StatelessWorker]
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
}
