using System.Collections.Concurrent;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Progress;

/// <summary>Live job events without Redis: the in-memory store's changes reach a client's observer through the <c>jobevents</c> grain.</summary>
[Collection(ClusterCollection.Name)]
public sealed class MemoryJobEventsTests(ClusterFixture fixture)
{
    [Fact]
    public async Task AnObserverRegisteredWithTheSiloHearsEveryStoredChangeOfAJob()
    {
        var collector = new Collector();
        var client = fixture.Cluster.Client;
        var reference = client.CreateObjectReference<IJobEventsObserver>(collector);
        try
        {
            var events = client.GetGrain<IJobEventsGrain>(0);
            Assert.False(await events.SubscribeAsync(reference));
            Assert.True(await events.SubscribeAsync(reference));

            var id = $"memory-events-{Guid.NewGuid():N}";
            await fixture.Jobs.EnqueueAsync(new Flaky(FailTimes: 1), id: id);
            var done = await fixture.WaitForTerminalAsync(id);
            var changes = await Poll.UntilAsync(() => Task.FromResult(collector.Of(id)), c => c.Any(x => x.Status == JobStatus.Succeeded));

            // Every stored version arrives once (one-way calls may overtake each other; streams keep the newest).
            Assert.Equal(Enumerable.Range(1, (int)done.Version).Select(v => (long)v), changes.Select(c => c.Version).Order());
            Assert.Contains(changes, c => c.Status == JobStatus.Retrying && c.LastAttempt is { Number: 1, Outcome: AttemptOutcome.Failed });
        }
        finally
        {
            client.DeleteObjectReference<IJobEventsObserver>(reference);
        }
    }

    private sealed class Collector : IJobEventsObserver
    {
        private readonly ConcurrentQueue<JobChange> _changes = new();

        public List<JobChange> Of(string id) => [.. _changes.Where(c => c.Id == id)];

        public Task OnJobChangedAsync(string changeJson)
        {
            if (JobChange.TryParse(changeJson) is { } change)
            {
                _changes.Enqueue(change);
            }

            return Task.CompletedTask;
        }
    }
}
