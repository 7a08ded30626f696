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
}
