using Microsoft.Extensions.Logging;
using OrleansTasks.Infrastructure;

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
        BackgroundRetry.Run(() => grains.GetGrain<IRetentionSweeperGrain>(0).StartAsync(), (ex, attempt) => LogStartFailed(ex, attempt), _stopping.Token);
        return Task.CompletedTask;
    }

    private Task OnStop(CancellationToken cancellationToken) => _stopping.CancelAsync();

    [LoggerMessage(702, LogLevel.Warning, "Retention: could not start the sweeper (attempt {Attempt}); retrying")]
    private partial void LogStartFailed(Exception exception, int attempt);
}
