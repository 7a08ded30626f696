using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Infrastructure;
using OrleansTasks.Jobs.Store;

namespace OrleansTasks.Jobs;

/// <summary>
/// Starts the cluster's sweepers when a silo becomes active: retention (once, retried until it answers) and recovery
/// (then again every recovery interval from every silo, so when the silo hosting the recovery sweeper dies, the
/// sweeper is back within one interval of failure detection rather than at its minute-long reminder).
/// </summary>
public sealed partial class SweeperStarter(IGrainFactory grains, IOptions<JobsOptions> options, ILogger<SweeperStarter> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(SweeperStarter), ServiceLifecycleStage.Active, OnStart, OnStop);
    }

    private Task OnStart(CancellationToken cancellationToken)
    {
        BackgroundRetry.Run(() => grains.GetGrain<IRetentionSweeperGrain>(0).StartAsync(), (ex, attempt) => LogStartFailed(ex, attempt), _stopping.Token);
        _ = Task.Run(() => KeepRecoveryAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private Task OnStop(CancellationToken cancellationToken) => _stopping.CancelAsync();

    private async Task KeepRecoveryAsync(CancellationToken stopping)
    {
        var every = options.Value.RecoveryInterval;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await grains.GetGrain<IJobRecoveryGrain>(0).StartAsync();
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                // Expected while the cluster forms or after the sweeper's silo died: the next interval tries again.
                LogRecoveryNotReached(ex);
            }

            await Task.Delay(every, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(702, LogLevel.Warning, "Retention: could not start the sweeper (attempt {Attempt}); retrying")]
    private partial void LogStartFailed(Exception exception, int attempt);

    [LoggerMessage(713, LogLevel.Debug, "Recovery: the sweeper did not answer; trying again in one recovery interval")]
    private partial void LogRecoveryNotReached(Exception exception);
}
