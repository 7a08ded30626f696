using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansTasks.Jobs;
using OrleansTasks.Schedules;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>A one-silo in-memory cluster whose schedule storage can be told to fail (<see cref="FaultyGrainStorage"/>, keyed by schedule id).</summary>
public sealed class FaultyScheduleStorageFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public ScheduleClient Schedules => new(Cluster.Client);

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) => TestSiloSettings.Apply(host, redis: null));
        builder.ConfigureSilo((_, silo) =>
        {
            // The production providers, with the schedules storage (as registered, boundary included) wrapped.
            silo.AddJobProviders(redis: null);
            var registered = silo.Services.Last(d => d.IsKeyedService && d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, StorageNames.Schedules));
            var factory = registered.KeyedImplementationFactory!;
            silo.Services.Remove(registered);
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Schedules, (sp, key) => new FaultyGrainStorage((IGrainStorage)factory(sp, key)));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>A schedule command whose write fails changes nothing anyone can see: memory goes back to what storage holds.</summary>
public sealed class ScheduleStorageFaultTests(FaultyScheduleStorageFixture fixture) : IClassFixture<FaultyScheduleStorageFixture>
{
    // Once a year: no occurrence fires (and writes) while a test runs.
    private static readonly ScheduleDefinition Yearly = new() { Type = "test_echo", PayloadJson = """{"value":"y"}""", Cron = "0 0 1 1 *" };

    private static string NewId(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    private async Task<ScheduleSnapshot> CreateAsync(string id)
    {
        var created = await fixture.Schedules.UpsertAsync(id, Yearly);
        Assert.Equal(ScheduleOutcome.Created, created.Outcome);
        return created.Snapshot!;
    }

    private async Task FailNextWriteAsync(string id, Func<Task> command)
    {
        FaultyGrainStorage.Faults[id] = StorageFault.FailBeforeWrite;
        await Assert.ThrowsAnyAsync<Exception>(command);
        Assert.False(FaultyGrainStorage.Faults.ContainsKey(id), "the command did not write");
    }

    [Fact]
    public async Task AFailedPauseLeavesTheScheduleRunningAndUnannotated()
    {
        var id = NewId("fault-pause");
        await CreateAsync(id);

        await FailNextWriteAsync(id, () => fixture.Schedules.PauseAsync(id, "maintenance"));

        var after = (await fixture.Schedules.GetAsync(id))!;
        Assert.False(after.Paused);
        Assert.Null(after.Note);

        // The next command works on what storage holds.
        var paused = await fixture.Schedules.PauseAsync(id, "second try");
        Assert.True(paused.Snapshot!.Paused);
        Assert.Equal("second try", (await fixture.Schedules.GetAsync(id))!.Note);
    }

    [Fact]
    public async Task AFailedResumeLeavesTheSchedulePaused()
    {
        var id = NewId("fault-resume");
        await CreateAsync(id);
        await fixture.Schedules.PauseAsync(id, "held");

        await FailNextWriteAsync(id, () => fixture.Schedules.ResumeAsync(id));

        var after = (await fixture.Schedules.GetAsync(id))!;
        Assert.True(after.Paused);
        Assert.Equal("held", after.Note);
    }

    [Fact]
    public async Task AFailedReplaceKeepsTheOldDefinition()
    {
        var id = NewId("fault-replace");
        var before = await CreateAsync(id);

        await FailNextWriteAsync(id, () => fixture.Schedules.UpsertAsync(id, Yearly with { Cron = "0 0 1 7 *", Overlap = OverlapPolicy.Allow }));

        var after = (await fixture.Schedules.GetAsync(id))!;
        Assert.Equal(before.Definition, after.Definition);
        Assert.Equal(before.UpdatedAt, after.UpdatedAt);
        Assert.Equal(before.NextRuns, after.NextRuns);
    }

    [Fact]
    public async Task AFailedTriggerOrBackfillRecordsNoRun()
    {
        var id = NewId("fault-trigger");
        await CreateAsync(id);

        await FailNextWriteAsync(id, () => fixture.Schedules.TriggerAsync(id));
        await FailNextWriteAsync(id, () => fixture.Schedules.BackfillAsync(id, new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero)));

        // The jobs they made stay (occurrence ids make a retry find them), but the schedule recorded nothing.
        var after = (await fixture.Schedules.GetAsync(id))!;
        Assert.Empty(after.RecentRuns);
    }
}
