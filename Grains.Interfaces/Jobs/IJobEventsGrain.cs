using Orleans.Concurrency;

namespace OrleansTasks.Jobs;

/// <summary>A client's receiver of job changes (<see cref="JobChange"/> as JSON) when the silo keeps jobs in memory (no Redis).</summary>
[Alias("OrleansTasks.IJobEventsObserver")]
public interface IJobEventsObserver : IGrainObserver
{
    /// <summary>A job was stored with this change.</summary>
    [OneWay, Alias("OnJobChanged")]
    Task OnJobChangedAsync(string changeJson);
}

/// <summary>
/// Live job events without Redis: an API process registers its observer here and renews it; the silo's in-memory job
/// store then sends it every stored change. With Redis the store publishes on a channel instead, and this grain is
/// unused.
/// </summary>
[Alias("OrleansTasks.IJobEventsGrain")]
public interface IJobEventsGrain : IGrainWithIntegerKey
{
    /// <summary>Registers or renews <paramref name="observer"/>; false when it was not registered (first call, or dropped).</summary>
    [Alias("Subscribe")]
    Task<bool> SubscribeAsync(IJobEventsObserver observer);
}
