using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansTasks.Jobs.Bulk;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>Bulk operations through the typed client, on the in-memory silo (memory storage for operations).</summary>
[Collection(ClusterCollection.Name)]
public sealed class BulkOperationTests(ClusterFixture fixture)
{
    [Fact]
    public async Task StartingAnOperationIdAgainReturnsItWhileADifferentActionOrFilterUnderThatIdIsRefused()
    {
        var run = $"bulk-idem-{Guid.NewGuid():N}"[..20];
        for (var i = 0; i < 3; i++)
        {
            await fixture.Jobs.EnqueueAsync(new Echo("later"), new JobOptions { Delay = TimeSpan.FromHours(1) }, $"{run}-{i}");
        }

        var filter = new JobFilter { Statuses = [JobStatus.Scheduled], IdPrefix = run };
        Assert.Equal(3, await fixture.Jobs.CountMatchingAsync(filter));
        var operationId = $"op-{run}";
        var first = await fixture.Jobs.StartBulkAsync(BulkAction.Cancel, filter, operationId);
        Assert.Equal(3, first.Matched);

        // Same action, an equal filter (a fresh list instance): the same operation, not a second one.
        var again = await fixture.Jobs.StartBulkAsync(BulkAction.Cancel, new JobFilter { Statuses = [JobStatus.Scheduled], IdPrefix = run }, operationId);
        Assert.Equal(first.CreatedAt, again.CreatedAt);
        Assert.Equal(3, again.Matched);

        await Assert.ThrowsAsync<InvalidOperationException>(() => fixture.Jobs.StartBulkAsync(BulkAction.Delete, filter, operationId));
        await Assert.ThrowsAsync<InvalidOperationException>(() => fixture.Jobs.StartBulkAsync(BulkAction.Cancel, filter with { IdPrefix = run + "-1" }, operationId));

        var done = await Poll.UntilAsync(() => fixture.Jobs.GetBulkAsync(operationId), s => s is { Completed: true }, what: "the operation to complete");
        Assert.Equal(3, done!.Done);
        Assert.Equal(0, done.Failed);
        Assert.NotNull(done.FinishedAt);
        Assert.Equal(0, await fixture.Jobs.CountMatchingAsync(filter));
    }

    [Fact]
    public async Task AnOperationMatchingNothingIsCompletedAtOnceAndAnUnknownOneIsNull()
    {
        var nothing = await fixture.Jobs.StartBulkAsync(BulkAction.Delete, new JobFilter { IdPrefix = $"none-{Guid.NewGuid():N}" });
        Assert.True(nothing.Completed);
        Assert.Equal(0, nothing.Matched);
        Assert.Equal(nothing.CreatedAt, nothing.FinishedAt);

        Assert.Null(await fixture.Jobs.GetBulkAsync($"unknown-{Guid.NewGuid():N}"));
        Assert.Null(await fixture.Jobs.GetBulkAsync("not an id!"));
        await Assert.ThrowsAsync<ArgumentException>(() => fixture.Jobs.StartBulkAsync(BulkAction.Cancel, new JobFilter { IdPrefix = "bad prefix" }));
    }

    [Fact]
    public async Task ARequeuePageRedoneAfterACrashSkipsTheJobsItsFirstTryRequeuedSoNoneRunsTwiceMore()
    {
        var run = $"bulk-redo-rq-{Guid.NewGuid():N}"[..22];
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await fixture.Jobs.EnqueueAsync(new Permanent("no"), id: $"{run}-{i}")).Snapshot!.Id);
        }

        foreach (var id in ids)
        {
            await fixture.WaitForAsync(id, s => s.Status == JobStatus.Failed);
        }

        // The crashed try had requeued the first two, which have since failed again in round 2.
        foreach (var id in ids.Take(2))
        {
            Assert.Equal(JobCommandOutcome.Done, (await fixture.Jobs.RequeueAsync(id)).Outcome);
            await fixture.WaitForAsync(id, s => s is { Round: 2, Status: JobStatus.Failed });
        }

        var operationId = await StoreInterruptedPageAsync(BulkAction.Requeue, new JobFilter { Statuses = [JobStatus.Failed], IdPrefix = run }, ids);
        var done = await Poll.UntilAsync(() => fixture.Jobs.GetBulkAsync(operationId), s => s is { Completed: true }, what: "the redone operation to complete");
        Assert.Equal(4, done!.Done);
        Assert.Equal(0, done.Failed);
        foreach (var id in ids)
        {
            var job = await fixture.WaitForAsync(id, s => s.Status == JobStatus.Failed && s.Round >= 2);
            Assert.Equal(2, job.Round);
        }
    }

    [Fact]
    public async Task ADeletePageRedoneAfterACrashCountsTheJobsItsFirstTryDeletedAsDone()
    {
        var run = $"bulk-redo-del-{Guid.NewGuid():N}"[..22];
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await fixture.Jobs.EnqueueAsync(new Echo("x"), id: $"{run}-{i}")).Snapshot!.Id);
        }

        foreach (var id in ids)
        {
            await fixture.WaitForTerminalAsync(id);
        }

        Assert.Equal(JobCommandOutcome.Done, (await fixture.Jobs.DeleteAsync(ids[0])).Outcome);
        var operationId = await StoreInterruptedPageAsync(BulkAction.Delete, new JobFilter { IdPrefix = run }, ids);
        var done = await Poll.UntilAsync(() => fixture.Jobs.GetBulkAsync(operationId), s => s is { Completed: true }, what: "the redone operation to complete");
        Assert.Equal(3, done!.Done);
        Assert.Equal(0, done.Failed);
        Assert.All(await Task.WhenAll(ids.Select(fixture.Jobs.GetAsync)), Assert.Null);
    }

    /// <summary>
    /// Stores an operation as a silo crash leaves it: its last page (all of <paramref name="ids"/>, listed in round 1)
    /// stored and begun once, not finished. The next call activates it, and it resumes.
    /// </summary>
    private async Task<string> StoreInterruptedPageAsync(BulkAction action, JobFilter filter, IReadOnlyList<string> ids)
    {
        var operationId = $"op-{Guid.NewGuid():N}";
        var storage = ((Orleans.TestingHost.InProcessSiloHandle)fixture.Cluster.Silos[0]).ServiceProvider
            .GetRequiredKeyedService<IGrainStorage>(StorageNames.Operations);
        var state = new BulkOperationState
        {
            Action = action,
            Filter = filter,
            CreatedAt = DateTimeOffset.UtcNow,
            Matched = ids.Count,
            Page = [.. ids.Select(id => new BulkPageItem(id, 1))],
            PageTries = 1,
        };
        await storage.WriteStateAsync("operation", GrainId.Create("bulkop", operationId), new GrainState<BulkOperationState>(state));
        return operationId;
    }
}
