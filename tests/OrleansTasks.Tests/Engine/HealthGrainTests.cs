using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansTasks.Health;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>The readiness grain on one in-memory silo whose job storage is a counting, breakable stand-in.</summary>
public sealed class HealthGrainTests : IAsyncLifetime
{
    private readonly CountingStorage _storage = new();
    private InProcessTestCluster _cluster = null!;

    private IHealthGrain Health => _cluster.Client.GetGrain<IHealthGrain>(0);

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Jobs, _storage));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task AFloodOfProbesCostsAtMostOneStorageReadPerSecond()
    {
        var elapsed = Stopwatch.StartNew();
        while (elapsed.Elapsed < TimeSpan.FromSeconds(3))
        {
            Assert.All(await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Health.IsStorageAnsweringAsync())), Assert.True);
        }

        // Calls kept coming for 3 s and an answer is reused for 1 s: the storage was asked again, but at most once a second.
        Assert.InRange(_storage.Reads, 2, (int)elapsed.Elapsed.TotalSeconds + 1);
    }

    [Fact]
    public async Task FailingOrHungStorageIsReportedAsNotAnsweringNeverAsAnException()
    {
        Assert.True(await Health.IsStorageAnsweringAsync());

        _storage.Behaviour = CountingStorage.Mode.Throw;
        await Poll.UntilAsync(() => Health.IsStorageAnsweringAsync(), answering => !answering, what: "storage that throws to be reported");

        _storage.Behaviour = CountingStorage.Mode.Answer;
        await Poll.UntilAsync(() => Health.IsStorageAnsweringAsync(), answering => answering, what: "storage that answers again");

        _storage.Behaviour = CountingStorage.Mode.Hang;
        await Poll.UntilAsync(() => Health.IsStorageAnsweringAsync(), answering => !answering, what: "storage that hangs to be reported");
    }

    private sealed class CountingStorage : IGrainStorage
    {
        private int _reads;

        public enum Mode
        {
            Answer,
            Throw,
            Hang,
        }

        public int Reads => Volatile.Read(ref _reads);

        public Mode Behaviour { get; set; }

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            Interlocked.Increment(ref _reads);
            return Behaviour switch
            {
                Mode.Throw => Task.FromException(new InvalidOperationException("storage is down")),
                Mode.Hang => new TaskCompletionSource().Task,
                _ => Task.CompletedTask,
            };
        }

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;
    }
}
