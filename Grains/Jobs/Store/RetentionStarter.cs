using Microsoft.Extensions.Logging;

namespace OrleansTasks.Jobs;

/// <summary>Starts the cluster's retention sweeper when a silo becomes active (idempotent, retried until it answers).</summary>
public sealed partial class RetentionStarter(IGrainFactory grains, ILogger<RetentionStarter> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(RetentionStarter), ServiceLifecycleStage.Active, OnStart, OnStop);
    }

    private Task OnStart(CancellationToken cancellationToken)
    {
        _ = Task.Run(async () =>
        {
            for (var attempt = 1; !_stopping.IsCancellationRequested; attempt++)
            {
                try
                {
                    await grains.GetGrain<IRetentionSweeperGrain>(0).StartAsync();
                    return;
                }
                catch (Exception ex) when (!_stopping.IsCancellationRequested)
                {
                    LogStartFailed(ex, attempt);
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt)), _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    private Task OnStop(CancellationToken cancellationToken) => _stopping.CancelAsync();

    [LoggerMessage(702, LogLevel.Warning, "Retention: could not start the sweeper (attempt {Attempt}); retrying")]
    private partial void LogStartFailed(Exception exception, int attempt);
}
