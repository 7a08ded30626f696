using System.Threading.Channels;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Jobs;

/// <summary>
/// This API process's open live streams, by job id: the change feed (the job's Redis pub/sub channel while it has
/// streams here, or the silo's observer without Redis; <see cref="IJobChangeFeed"/>) hands job changes here, and the
/// hub passes each to the streams of that job only. Idle streams cost nothing but their entry.
/// </summary>
public sealed class JobEventHub : IDisposable
{
    /// <summary>How often every open stream is woken to send a keep-alive comment.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<JobEventSubscription>> _byJob = new(StringComparer.Ordinal);

    // One timer for the whole process rather than a timeout per stream: idle streams then cost nothing in between.
    private readonly ITimer _keepAlive;

    public JobEventHub() => _keepAlive = TimeProvider.System.CreateTimer(static hub => ((JobEventHub)hub!).TickAll(), this, KeepAlive, KeepAlive);

    /// <summary>Open streams in this process.</summary>
    public int OpenStreams
    {
        get
        {
            lock (_lock)
            {
                return _byJob.Values.Sum(l => l.Count);
            }
        }
    }

    /// <summary>Starts taking the changes of job <paramref name="id"/>; dispose to stop.</summary>
    public JobEventSubscription Subscribe(string id)
    {
        var subscription = new JobEventSubscription(this, id);
        lock (_lock)
        {
            if (!_byJob.TryGetValue(id, out var list))
            {
                _byJob[id] = list = [];
            }

            list.Add(subscription);
        }

        return subscription;
    }

    /// <summary>Passes <paramref name="change"/> to the open streams of its job.</summary>
    public void Publish(JobChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        JobEventSubscription[] targets;
        lock (_lock)
        {
            if (!_byJob.TryGetValue(change.Id, out var list))
            {
                return;
            }

            targets = [.. list];
        }

        foreach (var target in targets)
        {
            target.Offer(change);
        }
    }

    /// <summary>Changes may have been missed (the subscription was down): every stream reads its job again.</summary>
    public void ResyncAll()
    {
        JobEventSubscription[] all;
        lock (_lock)
        {
            all = [.. _byJob.Values.SelectMany(l => l)];
        }

        foreach (var subscription in all)
        {
            subscription.MarkLost();
        }
    }

    public void Dispose() => _keepAlive.Dispose();

    private void TickAll()
    {
        JobEventSubscription[] all;
        lock (_lock)
        {
            all = [.. _byJob.Values.SelectMany(l => l)];
        }

        foreach (var subscription in all)
        {
            subscription.Tick();
        }
    }

    internal void Remove(JobEventSubscription subscription)
    {
        lock (_lock)
        {
            if (_byJob.TryGetValue(subscription.JobId, out var list) && list.Remove(subscription) && list.Count == 0)
            {
                _byJob.Remove(subscription.JobId);
            }
        }
    }
}

/// <summary>One stream's queue of changes. When it overflows (a client that does not read) or the process's subscription was down, <see cref="TakeLost"/> says so and the stream re-reads the job.</summary>
public sealed class JobEventSubscription : IDisposable
{
    private const int Capacity = 256;

    private readonly JobEventHub _hub;
    private readonly Channel<JobChange?> _changes;
    private int _lost;
    private int _tick;

    internal JobEventSubscription(JobEventHub hub, string jobId)
    {
        _hub = hub;
        JobId = jobId;
        _changes = Channel.CreateBounded<JobChange?>(
            new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Volatile.Write(ref _lost, 1));
    }

    public string JobId { get; }

    /// <summary>Changes in the order they were stored; a null wakes the reader to check <see cref="TakeLost"/>.</summary>
    public ChannelReader<JobChange?> Changes => _changes.Reader;

    /// <summary>True (once) when changes may have been missed since the last call.</summary>
    public bool TakeLost() => Interlocked.Exchange(ref _lost, 0) == 1;

    /// <summary>True (once) when the hub's keep-alive ticked since the last call.</summary>
    public bool TakeTick() => Interlocked.Exchange(ref _tick, 0) == 1;

    public void Dispose() => _hub.Remove(this);

    internal void Offer(JobChange change) => _changes.Writer.TryWrite(change);

    internal void Tick()
    {
        Volatile.Write(ref _tick, 1);
        _changes.Writer.TryWrite(null);
    }

    internal void MarkLost()
    {
        Volatile.Write(ref _lost, 1);
        _changes.Writer.TryWrite(null);
    }
}
