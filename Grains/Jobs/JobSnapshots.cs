namespace OrleansTasks.Jobs;

/// <summary>What a client sees of a stored job.</summary>
public static class JobSnapshots
{
    /// <summary>The snapshot of job <paramref name="id"/> in <paramref name="state"/>; <see cref="JobSnapshot.WaitingFor"/> is left to the reader that computes it.</summary>
    public static JobSnapshot Of(string id, JobState state, DateTimeOffset? expiresAt)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new()
        {
            Id = id,
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
            ExpiresAt = expiresAt,
            CallbackUrl = state.CallbackUrl,
            Progress = state.Progress,
            Version = state.Version,
            StartBy = state.StartBy,
            MaxAge = state.MaxAge,
        };
    }
}
