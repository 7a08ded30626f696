namespace OrleansTasks.Jobs;

/// <summary>A client's commands on a stored job: cancel, requeue, delete. The machine decides; a refusal is the answer.</summary>
public sealed partial class JobGrain
{
    public async Task<JobCommandResult> CancelAsync()
    {
        await RefreshAsync();
        var decision = await ApplyAsync(new JobEvent.CancelRequested(time.GetUtcNow()));
        if (decision is not JobTransition transition)
        {
            return Refused((JobRefusal)decision);
        }

        var state = State!;
        if (state.Status == JobStatus.Cancelled)
        {
            if (transition.Effects.Count > 0)
            {
                // It was waiting: stop the pump's wait (for its time or a slot); nothing runs.
                LogCancelled(Id, state.Type);
                await (_stopWaiting?.CancelAsync() ?? Task.CompletedTask);
            }

            return new JobCommandResult { Outcome = JobCommandOutcome.Done, Snapshot = Snapshot(state) };
        }

        LogCancelRequested(Id, state.Type, state.Attempts);
        await (_attemptCancel?.CancelAsync() ?? Task.CompletedTask);
        return new JobCommandResult { Outcome = JobCommandOutcome.Accepted, Snapshot = Snapshot(state) };
    }

    public async Task<JobCommandResult> RequeueAsync()
    {
        await RefreshAsync();
        if (await ApplyAsync(new JobEvent.Requeued(time.GetUtcNow())) is JobRefusal refusal)
        {
            return Refused(refusal);
        }

        var state = State!;
        LogRequeued(Id, state.Type, state.Round);
        StartPumpIfDue();
        return new JobCommandResult { Outcome = JobCommandOutcome.Done, Snapshot = Snapshot(state) };
    }

    public async Task<JobCommandResult> DeleteAsync()
    {
        await RefreshAsync();
        var type = State?.Type;
        if (await ApplyAsync(new JobEvent.Deleted(time.GetUtcNow())) is JobRefusal refusal)
        {
            return Refused(refusal);
        }

        LogDeleted(Id, type!);
        return new JobCommandResult { Outcome = JobCommandOutcome.Done };
    }

    /// <summary>The answer to a command the machine refused.</summary>
    private JobCommandResult Refused(JobRefusal refusal)
    {
        if (refusal.Reason == JobRefusalReason.NotFound)
        {
            DeactivateOnIdle();
            return new JobCommandResult { Outcome = JobCommandOutcome.NotFound, Detail = refusal.Detail };
        }

        return new JobCommandResult { Outcome = JobCommandOutcome.Conflict, Snapshot = Snapshot(State!), Detail = refusal.Detail };
    }
}
