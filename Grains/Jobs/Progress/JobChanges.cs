namespace OrleansTasks.Jobs.Progress;

/// <summary>The live-event message of a stored job state (<see cref="JobChange"/>), as the job stores publish it.</summary>
internal static class JobChanges
{
    public static JobChange Of(string id, JobState state) => new()
    {
        Id = id,
        Version = state.Version,
        Status = state.Status,
        Attempts = state.Attempts,
        Round = state.Round,
        NextAttemptAt = state.NextAttemptAt,
        LastError = state.LastError,
        LastAttempt = state.History.Count > 0 ? state.History[^1] : null,
        Progress = state.Progress,
    };
}
