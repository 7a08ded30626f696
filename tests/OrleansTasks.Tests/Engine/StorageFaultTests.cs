using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>How a job's storage write goes wrong, once, for one job id.</summary>
public enum StorageFault
{
    /// <summary>The write throws and stores nothing.</summary>
    FailBeforeWrite,

    /// <summary>The write is stored, then throws: a reply lost on the way back.</summary>
    FailAfterWrite,
}

/// <summary>Thrown by <see cref="FaultyGrainStorage"/>.</summary>
public sealed class InjectedStorageFaultException(string message) : Exception(message);

/// <summary>The engine's grain storage with faults injected per job id, around its in-memory job store.</summary>
public sealed class FaultyGrainStorage(IGrainStorage inner) : IGrainStorage
{
    public static ConcurrentDictionary<string, StorageFault> Faults { get; } = new();

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.Key.ToString()!;
        if (Faults.TryRemove(key, out var fault))
        {
            if (fault == StorageFault.FailAfterWrite)
            {
                // Keep what the grain knew, as a caller that never saw the reply would.
                var (etag, existed) = (grainState.ETag, grainState.RecordExists);
                await inner.WriteStateAsync(stateName, grainId, grainState);
                (grainState.ETag, grainState.RecordExists) = (etag, existed);
            }

            // A failing write takes a while (a Redis timeout takes seconds): long enough for queries to arrive meanwhile.
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            throw new InjectedStorageFaultException($"injected {fault} for {key}");
        }

        await inner.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, grainId, grainState);
}

/// <summary>A one-silo in-memory cluster whose job storage can be told to fail.</summary>
public sealed class FaultyStorageFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public JobClient Jobs => new(Cluster.Client);

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) => TestSiloSettings.Apply(host, redis: null));
        builder.ConfigureSilo((_, silo) =>
        {
            // The production in-memory providers, with the jobs storage then wrapped by the faulty one: what a lost
            // reply stored is in the job store the listings and the recovery sweeper read.
            silo.AddJobProviders(redis: null);
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Jobs,
                (sp, _) => new FaultyGrainStorage(sp.GetRequiredService<MemoryJobStore>()));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>After any failed write, memory is never ahead of storage, and "no record" is decided only on a fresh read.</summary>
public sealed class StorageFaultTests(FaultyStorageFixture fixture) : IClassFixture<FaultyStorageFixture>
{
    [Fact]
    public async Task AClientRetryAfterAFailedWriteGetsAJobCarryingNoAttemptThatNeverRan()
    {
        var id = $"fault-before-{Guid.NewGuid():N}";
        FaultyGrainStorage.Faults[id] = StorageFault.FailBeforeWrite;
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Jobs.EnqueueAsync(new Echo("first try"), id: id));

        // The README's advice after a 503: send the same id again.
        var retried = await fixture.Jobs.EnqueueAsync(new Echo("first try"), id: id);
        Assert.Equal(EnqueueOutcome.Created, retried.Outcome);
        Assert.True(retried.Snapshot!.Attempts <= 1, $"attempts {retried.Snapshot.Attempts} after one enqueue");
        Assert.True(retried.Snapshot.History.Count <= 1, $"{retried.Snapshot.History.Count} attempts in the history");

        var done = await fixture.Jobs.UntilJobAsync(id, s => s.Status.IsTerminal());
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(1, done.Attempts);
        Assert.Equal([AttemptOutcome.Succeeded], done.History.Select(a => a.Outcome));
        Assert.Equal(1, TestJobLog.ExecutionsOf(id));
    }

    [Fact]
    public async Task AJobStoredByAWriteWhoseReplyWasLostStillRunsWithoutAnyoneAskingForIt()
    {
        var id = $"fault-after-{Guid.NewGuid():N}";
        FaultyGrainStorage.Faults[id] = StorageFault.FailAfterWrite;
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Jobs.EnqueueAsync(new Echo("lost reply"), id: id));

        // Nobody queries the job: only the recovery sweep can bring it back. Had the call taken the stale
        // activation's "no record" for the truth, the stored job would never run.
        await Poll.UntilAsync(() => Task.FromResult(TestJobLog.ExecutionsOf(id)), n => n >= 1, TimeSpan.FromSeconds(60), "the stored job to run");

        var retried = await fixture.Jobs.EnqueueAsync(new Echo("lost reply"), id: id);
        Assert.Equal(EnqueueOutcome.Existing, retried.Outcome);
        var done = await fixture.Jobs.UntilJobAsync(id, s => s.Status.IsTerminal());
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(1, TestJobLog.ExecutionsOf(id));
    }

    [Fact]
    public async Task AFailedWriteOfAnAttemptsOutcomeLeavesTheStoredAttemptToBeRecoveredNotAPhantomState()
    {
        var gate = $"fault-outcome-{Guid.NewGuid():N}";
        var id = $"fault-outcome-{Guid.NewGuid():N}";
        await fixture.Jobs.EnqueueAsync(new Gate(gate), id: id);
        await fixture.Jobs.UntilJobAsync(id, s => s.Status == JobStatus.Running);

        // The success write fails: the handler ran, but storage still says running.
        FaultyGrainStorage.Faults[id] = StorageFault.FailBeforeWrite;
        TestJobLog.Open(gate);

        // Queries never see "succeeded" for a job storage holds as running, neither while the failing write is in
        // flight nor after it; the stored attempt is recovered (counted as interrupted, at-least-once) and the job
        // then succeeds for real.
        var seen = new List<JobSnapshot>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JobSnapshot done;
        do
        {
            done = (await fixture.Jobs.GetAsync(id))!;
            seen.Add(done);
        }
        while (!done.Status.IsTerminal() && DateTime.UtcNow < deadline);

        Assert.DoesNotContain(seen, s => s.Status == JobStatus.Succeeded && s.History.Count == 1);
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal([AttemptOutcome.Interrupted, AttemptOutcome.Succeeded], done.History.Select(a => a.Outcome));
        Assert.Equal(2, TestJobLog.ExecutionsOf(id));
    }
}
