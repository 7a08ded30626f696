using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime.Placement;
using OrleansTasks.Observability;

namespace OrleansTasks.Jobs;

/// <summary>The pump: background work on the grain's scheduler that carries out the machine's next step until none is left.</summary>
public sealed partial class JobGrain
{
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_pump is not { } pump || _stopWaiting is not { } stopWaiting || _handOff is not { } handOff)
        {
            return;
        }

        if (reason.ReasonCode == DeactivationReasonCode.ApplicationRequested)
        {
            // This activation asked to go (a finished job, a wait too far off, a failed write): its pump is ending by
            // itself, with nothing to cut short or to report.
            await pump.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
            if (pump.IsCompleted)
            {
                return;
            }
        }
        else if (reason.ReasonCode != DeactivationReasonCode.ShuttingDown)
        {
            // Not a stopping silo (a peer's crash took this activation's directory entry, say): the silo lives on, so
            // a running attempt is let finish and recorded as it ends; only waits are cut short. Only if it outlasts
            // the deactivation's time is it handed on, saying why.
            LogDeactivatedWhileActive(Id, State?.Status ?? JobStatus.Queued, reason.ReasonCode, reason.Description);
            _handOffReason = $"The job's activation was deactivated ({reason.ReasonCode}: {reason.Description}) before the attempt ended; it runs again.";
            await stopWaiting.CancelAsync();
            await pump.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
            if (pump.IsCompleted)
            {
                return;
            }
        }

        // Graceful stop (or out of time): cancel the running handler or the wait for a slot, and let the pump record
        // the hand-off, so the job is rescheduled elsewhere now instead of after failure detection.
        await stopWaiting.CancelAsync();
        await handOff.CancelAsync();
        await pump.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
    }

    private void StartPumpIfDue()
    {
        if (_pump is null && JobStateMachine.NeedsPump(State, Facts(State), time.GetUtcNow()))
        {
            _stopWaiting = new CancellationTokenSource();
            _handOff = new CancellationTokenSource();
            _pump = PumpAsync(_stopWaiting.Token, _handOff.Token);
        }
    }

    private async Task PumpAsync(CancellationToken stopWaiting, CancellationToken handOff)
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
            while (await StepAsync(stopWaiting, handOff))
            {
            }
        }
        catch (OperationCanceledException) when (stopWaiting.IsCancellationRequested && State is not { Status: JobStatus.Running })
        {
            // Leaving while waiting for a slot or for the job's time: hand the job on. (A job cancelled while it
            // waited stops its pump the same way; it has nothing to hand on.)
            if (State is { Status: JobStatus.Queued or JobStatus.Scheduled or JobStatus.Retrying })
            {
                await ApplyAsync(new JobEvent.HandedOff(time.GetUtcNow()));
            }
        }
        catch (Exception ex)
        {
            // Most likely storage is unreachable. ApplyAsync has already put memory back and dropped the activation;
            // the recovery sweep (or the wake-up) re-activates the job from storage and carries on.
            LogPumpFailed(ex, Id);
            DeactivateOnIdle();
        }
        finally
        {
            ReleaseSlot();
            _pump = null;
            _handOff?.Dispose();
            _handOff = null;
            _stopWaiting?.Dispose();
            _stopWaiting = null;
        }
    }

    /// <summary>Carries out the machine's next step for the pump; false when there is nothing more to do in this activation.</summary>
    private async Task<bool> StepAsync(CancellationToken stopWaiting, CancellationToken handOff)
    {
        var state = State;
        var now = time.GetUtcNow();
        switch (JobStateMachine.NextStep(state, Facts(state), now))
        {
            case var step when step == JobStep.RunAttempt:
                await ExecuteAttemptAsync(state!, handOff);
                return !stopWaiting.IsCancellationRequested;

            case var step when step == JobStep.Rest:
                // Far off: free the memory; the wake-up brings the job back when it is due.
                DeactivateOnIdle();
                return false;

            case JobStep.WaitUntil wait:
                await Task.Delay(Min(wait.Until - now + TimeSpan.FromMilliseconds(1), KeepWarmLimit), time, stopWaiting);
                return true;

            case var step when step == JobStep.AwaitPreviousHandler:
                await _abandoned!.WaitAsync(stopWaiting);
                return true;

            case var step when step == JobStep.AcquireSlot:
                var slot = await runner.AcquireSlotAsync(stopWaiting);
                try
                {
                    if (await ApplyAsync(new JobEvent.SlotAcquired(time.GetUtcNow(), RuntimeIdentity)) is not JobTransition)
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

                if (State is not { Status: JobStatus.Running })
                {
                    // Not started by its startBy or maxAge: ended without running.
                    slot.Dispose();
                    LogNotStartedInTime(Id, state!.Type, state.StartBy!.Value);
                    return true;
                }

                _slot = slot;
                _plannedStart = state!.NextAttemptAt;
                LogStarted(Id, state.Type, State!.Attempts, RuntimeIdentity);
                return true;

            case JobStep.Apply { Event: JobEvent.Interrupted } apply:
                LogInterrupted(Id, state!.Type, state.Attempts);
                metrics.AttemptInterrupted(state.Type);
                await ApplyAsync(apply.Event);
                return true;

            case JobStep.Apply { Event: JobEvent.NotRunnableHere } apply:
                LogNotRunnableHere(Id, state!.Type, RuntimeIdentity);
                await ApplyAsync(apply.Event);
                return false;

            case JobStep.Apply apply:
                // A refusal means a client's command moved the job meanwhile: decide again on the state now.
                await ApplyAsync(apply.Event);
                return true;

            default:
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

        if (result.Outcome == AttemptOutcome.HandedOff && _handOffReason is { } why)
        {
            result = result with { Error = new JobError("HandedOff", why) };
        }

        _abandoned = result.Abandoned;
        trace.Ended(result);

        await ApplyAsync(new JobEvent.AttemptFinished(time.GetUtcNow(), result, Random.Shared.NextDouble()) { Progress = pending });
        LogAttemptEnded(State!, result);
    }

    /// <summary>
    /// Moves the activation to a silo that has the job's type, or, when none is up, lets it go: the recovery sweep
    /// (queued) or the wake-up (waiting for a time) re-activates it until a silo with the type has joined.
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
}
