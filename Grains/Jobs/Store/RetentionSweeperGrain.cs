using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Infrastructure;

namespace OrleansTasks.Jobs.Store;

/// <summary>Removes finished jobs past their retention, and the oldest beyond a cap. One per cluster.</summary>
[Alias("OrleansTasks.IRetentionSweeperGrain")]
public interface IRetentionSweeperGrain : IGrainWithIntegerKey
{
    /// <summary>Makes sure the sweeper runs (idempotent; every silo calls it at start-up).</summary>
    [Alias("Start")]
    Task StartAsync();

    /// <summary>Sweeps now; returns how many jobs were removed.</summary>
    [Alias("SweepNow")]
    Task<long> SweepNowAsync();
}

/// <summary>
/// A durable reminder (once a minute) keeps this grain alive across crashes; while active, a timer sweeps every
/// <c>Jobs:Retention:SweepInterval</c>. Removing is batched per partition in Redis, so one sweeper keeps up with
/// thousands of expiries a second, and no job needs a reminder of its own once finished.
/// </summary>
[GrainType("retention")]
public sealed partial class RetentionSweeperGrain(
    IJobStore store,
    IOptions<JobsOptions> options,
    [FromKeyedServices(JobClock.Key)] TimeProvider time,
    ILogger<RetentionSweeperGrain> logger) : Grain, IRetentionSweeperGrain, IRemindable
{
    private const int Batch = 2000;

    // A tick gives up the grain after this many batches; the next tick carries on.
    private const int MaxBatchesPerSweep = 50;
    private static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);
    private PeriodicSweep? _sweeper;

    public async Task StartAsync()
    {
        await this.RegisterOrUpdateReminder("sweep", ReminderPeriod, ReminderPeriod);
        Sweeper.EnsureTimer(this, options.Value.Retention.SweepInterval);
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Sweeper.EnsureTimer(this, options.Value.Retention.SweepInterval);
        return Task.CompletedTask;
    }

    public Task<long> SweepNowAsync() => Sweeper.RunOnceAsync();

    // A sweep failing (Redis down) is logged; the next tick tries again.
    private PeriodicSweep Sweeper => _sweeper ??= new(RunSweepAsync, LogSweepFailed);

    private async Task<long> RunSweepAsync()
    {
        long removed = 0;
        int last, rounds = 0;
        do
        {
            last = await store.SweepExpiredAsync(time.GetUtcNow(), Batch);
            removed += last;
        }
        while (last > 0 && ++rounds < MaxBatchesPerSweep);

        foreach (var status in new[] { JobStatus.Succeeded, JobStatus.Cancelled, JobStatus.Failed })
        {
            if (options.Value.Retention.CapOf(status) is { } cap)
            {
                rounds = 0;
                do
                {
                    last = await store.TrimAsync(status, cap, Batch);
                    removed += last;
                }
                while (last > 0 && ++rounds < MaxBatchesPerSweep);
            }
        }

        if (removed > 0)
        {
            LogSwept(removed);
        }

        return removed;
    }

    [LoggerMessage(700, LogLevel.Debug, "Retention: removed {Count} finished jobs")]
    private partial void LogSwept(long count);

    [LoggerMessage(701, LogLevel.Warning, "Retention: a sweep failed; retrying at the next tick")]
    private partial void LogSweepFailed(Exception exception);
}
