using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Infrastructure;
using OrleansTasks.Jobs.Store;

namespace OrleansTasks.Jobs;

/// <summary>Resumes queued and running jobs whose silo died. One per cluster.</summary>
[Alias("OrleansTasks.IJobRecoveryGrain")]
public interface IJobRecoveryGrain : IGrainWithIntegerKey
{
    /// <summary>Makes sure the sweeper runs (idempotent; every silo calls it at start-up and then every recovery interval).</summary>
    [Alias("Start")]
    Task StartAsync();

    /// <summary>Sweeps now; returns how many jobs were called.</summary>
    [Alias("SweepNow")]
    Task<long> SweepNowAsync();
}

/// <summary>
/// Every <c>Jobs:RecoveryInterval</c>, calls each job stored as queued or running (<see cref="IJobGrain.RecoverAsync"/>),
/// walking the status index with its stable cursor, a page at a time. A job whose activation is alive answers from
/// memory; one whose silo died is activated on a live silo and resumes (its interrupted attempt counted), as a
/// per-job reminder's tick did before, without registering and removing a reminder per job. A durable reminder
/// (once a minute) keeps this grain alive across crashes, and every silo calls <see cref="StartAsync"/> each recovery
/// interval, so after its silo dies it is back within one interval of failure detection.
/// </summary>
[GrainType("recovery")]
public sealed partial class JobRecoveryGrain(
    IJobStore store,
    IOptions<JobsOptions> options,
    ILogger<JobRecoveryGrain> logger) : Grain, IJobRecoveryGrain, IRemindable
{
    private const int PageSize = 500;
    private const int Parallelism = 32;
    private static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);
    private static readonly JobFilter Stranded = new() { Statuses = [JobStatus.Queued, JobStatus.Running] };

    private PeriodicSweep? _sweeper;
    private bool _reminded;

    public async Task StartAsync()
    {
        Sweeper.EnsureTimer(this, options.Value.RecoveryInterval);
        if (!_reminded)
        {
            await this.RegisterOrUpdateReminder("recover", ReminderPeriod, ReminderPeriod);
            _reminded = true;
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Sweeper.EnsureTimer(this, options.Value.RecoveryInterval);
        return Task.CompletedTask;
    }

    public Task<long> SweepNowAsync() => Sweeper.RunOnceAsync();

    // A sweep failing (Redis down) is logged; the next tick tries again.
    private PeriodicSweep Sweeper => _sweeper ??= new(RunSweepAsync, LogSweepFailed);

    private async Task<long> RunSweepAsync()
    {
        long called = 0, failed = 0;
        await foreach (var page in IndexStream.PagesAsync(store, Stranded, PageSize))
        {
            using var gate = new SemaphoreSlim(Parallelism);
            await Task.WhenAll(page.Items.Select(async item =>
            {
                await gate.WaitAsync();
                try
                {
                    await GrainFactory.GetGrain<IJobGrain>(item.Id).RecoverAsync();
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                        // A job on a silo not yet declared dead, or storage unreachable: the next sweep calls it again.
                    failed++;
                    LogCallFailed(ex, item.Id);
                }
                finally
                {
                    gate.Release();
                }
            }));
            called += page.Items.Count;
        }

        LogSwept(called, failed);
        return called;
    }

    [LoggerMessage(710, LogLevel.Debug, "Recovery: called {Count} queued or running jobs ({Failed} calls failed)")]
    private partial void LogSwept(long count, long failed);

    [LoggerMessage(711, LogLevel.Warning, "Recovery: a sweep failed; retrying at the next tick")]
    private partial void LogSweepFailed(Exception exception);

    [LoggerMessage(712, LogLevel.Debug, "Recovery: job {JobId} did not answer; the next sweep calls it again")]
    private partial void LogCallFailed(Exception exception, string jobId);
}
