using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Storage;
using OrleansTasks.Jobs;

namespace OrleansTasks.Health;

/// <summary>
/// Checks the job storage from inside the cluster: a read of a record that is never written, through the same
/// provider the jobs use, so it is a real round trip for Redis and for in-memory storage alike.
/// </summary>
[StatelessWorker(1), Reentrant, GrainType("health")]
public sealed partial class HealthGrain(
    [FromKeyedServices(StorageNames.Jobs)] IGrainStorage storage, TimeProvider time, ILogger<HealthGrain> logger) : Grain, IHealthGrain
{
    /// <summary>How long an answer is reused. One activation per silo (<c>StatelessWorker(1)</c>) makes this per silo.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest wait for the storage. Below the API's default readiness timeout (2 s), so a hung Redis is reported
    /// by the silo as "not answering" rather than as a silent cluster.
    /// </summary>
    public static readonly TimeSpan StorageTimeout = TimeSpan.FromSeconds(1);

    private const string StateName = "health";

    private Task<bool>? _probe;
    private long _probedAt;

    public Task<bool> IsStorageAnsweringAsync()
    {
        // Reentrant on the grain's single-threaded scheduler: concurrent callers share the one probe in flight.
        if (_probe is null || (_probe.IsCompleted && time.GetElapsedTime(_probedAt) > CacheFor))
        {
            _probe = ProbeAsync();
        }

        return _probe;
    }

    private async Task<bool> ProbeAsync()
    {
        try
        {
            await storage.ReadStateAsync(StateName, this.GetGrainId(), new GrainState<HealthProbeState>()).WaitAsync(StorageTimeout);
            return true;
        }
        catch (Exception ex)
        {
            // Any failure means "not ready"; the reason stays here, in the silo's log.
            LogStorageNotAnswering(logger, ex, StorageTimeout);
            return false;
        }
        finally
        {
            _probedAt = time.GetTimestamp();
        }
    }

    [LoggerMessage(400, LogLevel.Warning, "Readiness: a read through the job storage failed or took longer than {Timeout}")]
    private static partial void LogStorageNotAnswering(ILogger logger, Exception exception, TimeSpan timeout);
}

/// <summary>The never-written record the readiness probe reads.</summary>
[GenerateSerializer, Alias("OrleansTasks.HealthProbeState")]
public sealed class HealthProbeState;
