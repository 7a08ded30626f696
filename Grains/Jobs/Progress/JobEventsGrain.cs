using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Placement;
using OrleansTasks.Jobs.Store;

namespace OrleansTasks.Jobs.Progress;

/// <summary>
/// Sends the changes the silo's in-memory job store makes to the API processes that registered an observer (live
/// events without Redis, where one silo holds every job). With Redis the store publishes instead and no observer is
/// ever registered here.
/// </summary>
[PreferLocalPlacement]
[GrainType("jobevents")]
public sealed class JobEventsGrain(IServiceProvider services, IOptions<GrainCollectionOptions> collection,
    [FromKeyedServices(JobClock.Key)] TimeProvider time) : Grain, IJobEventsGrain
{
    // An observer that is not renewed within this is dropped (its API process is gone).
    private static readonly TimeSpan Expiry = TimeSpan.FromSeconds(60);

    private readonly Lock _lock = new();
    private Dictionary<IJobEventsObserver, DateTimeOffset> _observers = [];
    private MemoryJobStore? _store;
    private IGrainTimer? _keepAlive;

    public Task<bool> SubscribeAsync(IJobEventsObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        if (_store is null && services.GetService<MemoryJobStore>() is { } store)
        {
            _store = store;
            store.Changed += OnChanged;
        }

        bool known;
        lock (_lock)
        {
            var next = new Dictionary<IJobEventsObserver, DateTimeOffset>(_observers);
            known = next.ContainsKey(observer);
            next[observer] = time.GetUtcNow() + Expiry;
            _observers = next;
        }

        // Kept while observers are registered (the store's subscription lives in this activation): a KeepAlive
        // timer's ticks count as activity, so it ticks well within the collection age.
        var period = TimeSpan.FromTicks(Math.Min(Expiry.Ticks, collection.Value.CollectionAge.Ticks) / 3);
        _keepAlive ??= this.RegisterGrainTimer(Sweep, new GrainTimerCreationOptions(period, period) { KeepAlive = true, Interleave = true });
        return Task.FromResult(known);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_store is not null)
        {
            _store.Changed -= OnChanged;
        }

        return Task.CompletedTask;
    }

    // Called by the store inside a job grain's write: only reads the observer set and sends one-way messages.
    private void OnChanged(JobChange change)
    {
        var observers = Volatile.Read(ref _observers);
        if (observers.Count == 0)
        {
            return;
        }

        var json = change.ToJson();
        foreach (var observer in observers.Keys)
        {
            _ = observer.OnJobChangedAsync(json);
        }
    }

    private Task Sweep()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            _observers = _observers.Where(o => o.Value > now).ToDictionary();
            if (_observers.Count == 0)
            {
                _keepAlive?.Dispose();
                _keepAlive = null;
            }
        }

        return Task.CompletedTask;
    }
}
