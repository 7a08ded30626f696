using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansTasks.Jobs;

namespace OrleansTasks.Infrastructure;

/// <summary>
/// Wraps a grain storage provider so that its failures surface as <see cref="JobStorageUnavailableException"/>.
/// Needed beside <see cref="BoundaryExceptionFilter"/>: a state read that fails while a grain activates is sent back
/// to the caller by the runtime itself, before any call filter runs, so the provider's own exception type (for
/// Redis, RedisStorageException) would reach a client that cannot load it.
/// </summary>
public sealed partial class JobStorageBoundary(IGrainStorage inner, ILogger<JobStorageBoundary> logger)
    : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        GuardAsync(inner.ReadStateAsync(stateName, grainId, grainState), "read", grainId);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        GuardAsync(inner.WriteStateAsync(stateName, grainId, grainState), "write", grainId);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        GuardAsync(inner.ClearStateAsync(stateName, grainId, grainState), "clear", grainId);

    // The wrapped provider may initialise itself in the silo lifecycle (Redis connects there).
    public void Participate(ISiloLifecycle observer) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(observer);

    private async Task GuardAsync(Task operation, string what, GrainId grainId)
    {
        try
        {
            await operation;
        }

        // An etag mismatch is an answer, not an outage: the runtime and the grain act on its type.
        catch (Exception exception) when (exception is not (InconsistentStateException or JobStorageUnavailableException or OperationCanceledException))
        {
            LogStorageFailed(logger, exception, what, grainId.ToString());
            throw new JobStorageUnavailableException($"The job storage failed to {what} the job's state. Retry shortly with the same job id.");
        }
    }

    [LoggerMessage(21, LogLevel.Warning, "Job storage failed to {Operation} the state of {Grain}")]
    private static partial void LogStorageFailed(ILogger logger, Exception exception, string operation, string grain);
}

/// <summary>Registration of <see cref="JobStorageBoundary"/>.</summary>
public static class JobStorageBoundaryExtensions
{
    /// <summary>
    /// Wraps the grain storage registered under <paramref name="name"/> (call after registering it) in a
    /// <see cref="JobStorageBoundary"/>.
    /// </summary>
    public static IServiceCollection AddJobStorageBoundary(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        var registered = services.LastOrDefault(d => d.IsKeyedService && d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, name))
            ?? throw new InvalidOperationException($"No grain storage named '{name}' is registered yet.");
        var factory = registered.KeyedImplementationFactory
            ?? throw new InvalidOperationException($"Grain storage '{name}' is not registered through a factory.");
        services.Remove(registered);
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) =>
            new JobStorageBoundary((IGrainStorage)factory(sp, key), sp.GetRequiredService<ILogger<JobStorageBoundary>>()));
        return services;
    }
}
