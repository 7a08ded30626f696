using Microsoft.Extensions.Logging;

namespace OrleansTasks.Jobs;

// Payloads are never logged: they may hold personal data such as e-mail addresses.
public sealed partial class JobGrain
{
    private void LogAttemptEnded(JobState after, AttemptResult result)
    {
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
                LogHandedOff(Id, after.Type, attempt.Error?.Message ?? "");
                break;
            case var _ when after.Status == JobStatus.Failed:
                LogFailed(Id, after.Type, after.Attempts, result.Error!.Type, result.Error.Message, result.Permanent);
                break;
            default:
                LogAttemptFailed(Id, after.Type, after.Attempts, result.Error!.Type, result.Error.Message, after.NextAttemptAt ?? time.GetUtcNow());
                break;
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Job {JobId} ({JobType}) enqueued as {Status}, first run at {RunAt:o}")]
    private partial void LogEnqueued(string jobId, string jobType, JobStatus status, DateTimeOffset runAt);

    [LoggerMessage(2, LogLevel.Information, "Job {JobId} ({JobType}) attempt {Attempt} started on {Silo}")]
    private partial void LogStarted(string jobId, string jobType, int attempt, string silo);

    [LoggerMessage(3, LogLevel.Information, "Job {JobId} ({JobType}) succeeded on attempt {Attempt} in {DurationMs:F0} ms")]
    private partial void LogSucceeded(string jobId, string jobType, int attempt, double durationMs);

    [LoggerMessage(4, LogLevel.Warning, "Job {JobId} ({JobType}) attempt {Attempt} failed with {ErrorType}: {ErrorMessage}; next attempt at {NextAttemptAt:o}")]
    private partial void LogAttemptFailed(string jobId, string jobType, int attempt, string errorType, string errorMessage, DateTimeOffset nextAttemptAt);

    [LoggerMessage(5, LogLevel.Error, "Job {JobId} ({JobType}) failed after {Attempts} attempts with {ErrorType}: {ErrorMessage} (permanent: {Permanent})")]
    private partial void LogFailed(string jobId, string jobType, int attempts, string errorType, string errorMessage, bool permanent);

    [LoggerMessage(6, LogLevel.Warning, "Job {JobId} ({JobType}) attempt {Attempt} was interrupted: its silo stopped before it reported back")]
    private partial void LogInterrupted(string jobId, string jobType, int attempt);

    [LoggerMessage(7, LogLevel.Information, "Job {JobId} ({JobType}) handed off: {Why}")]
    private partial void LogHandedOff(string jobId, string jobType, string why);

    [LoggerMessage(8, LogLevel.Error, "Job {JobId}: background processing failed; the activation is dropped and the recovery sweep (or its wake-up) resumes it")]
    private partial void LogPumpFailed(Exception exception, string jobId);

    [LoggerMessage(9, LogLevel.Warning, "Job {JobId}: could not remove its wake-up reminder; its next tick will")]
    private partial void LogWakeUpNotCleared(Exception exception, string jobId);

    [LoggerMessage(10, LogLevel.Warning, "Job {JobId} ({JobType}) cannot run on {Silo}: no handler for its type is registered here (a rolling deploy?). Nothing is counted; its wake-up re-activates it, placed afresh")]
    private partial void LogNotRunnableHere(string jobId, string jobType, string silo);

    [LoggerMessage(11, LogLevel.Information, "Job {JobId} ({JobType}) cancelled")]
    private partial void LogCancelled(string jobId, string jobType);

    [LoggerMessage(12, LogLevel.Information, "Job {JobId} ({JobType}) cancel requested while attempt {Attempt} runs: its token fires")]
    private partial void LogCancelRequested(string jobId, string jobType, int attempt);

    [LoggerMessage(13, LogLevel.Information, "Job {JobId} ({JobType}) requeued as round {Round}")]
    private partial void LogRequeued(string jobId, string jobType, int round);

    [LoggerMessage(14, LogLevel.Information, "Job {JobId} ({JobType}) deleted")]
    private partial void LogDeleted(string jobId, string jobType);

    [LoggerMessage(15, LogLevel.Information, "Job {JobId} ({JobType}) expired: its retention ended at {ExpiresAt}")]
    private partial void LogExpired(string jobId, string jobType, DateTimeOffset expiresAt);

    [LoggerMessage(17, LogLevel.Warning, "Job {JobId} ({JobType}) cancelled as expired: it had not started by {StartBy:o} (its startBy or maxAge), so it was not run")]
    private partial void LogNotStartedInTime(string jobId, string jobType, DateTimeOffset startBy);

    [LoggerMessage(16, LogLevel.Warning, "Job {JobId} ({Status}): its activation is deactivated ({Reason}: {Description}) on a silo that is not stopping; a running attempt is let finish and recorded, waits end and resume elsewhere")]
    private partial void LogDeactivatedWhileActive(string jobId, JobStatus status, DeactivationReasonCode reason, string description);
}
