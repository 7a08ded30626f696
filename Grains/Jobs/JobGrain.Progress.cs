using Microsoft.Extensions.Logging;
using OrleansTasks.Jobs.Progress;

namespace OrleansTasks.Jobs;

/// <summary>Progress reports of the running attempt, stored as transitions of the job.</summary>
public sealed partial class JobGrain
{
    /// <summary>A reporter for the attempt <paramref name="running"/> has begun (the last entry of its history); call on the grain's turn.</summary>
    private ProgressReporter NewProgressReporter(JobState running)
    {
        var attempt = running.History[^1].Number;
        return new ProgressReporter(TaskScheduler.Current, time, async progress =>
        {
            try
            {
                // A report of an attempt that has meanwhile ended or been cancelled changes nothing (the state machine decides).
                await ApplyAsync(new JobEvent.ProgressReported(time.GetUtcNow(), attempt, progress));
            }
            catch (Exception ex)
            {
                // Storage failed: ApplyAsync has put memory back; a later report or the outcome stores progress again.
                LogProgressNotStored(ex, Id, attempt);
            }
        });
    }

    [LoggerMessage(1210, LogLevel.Warning, "Job {JobId}: progress of attempt {Attempt} could not be stored")]
    private partial void LogProgressNotStored(Exception exception, string jobId, int attempt);
}
