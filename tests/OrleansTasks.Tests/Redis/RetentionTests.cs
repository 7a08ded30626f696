using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>Finished jobs leave Redis after their retention (never before), caps keep the newest, and the id is free again.</summary>
[Collection(RedisCollection.Name)]
public sealed class RetentionTests(RedisFixture fixture)
{
    private RedisServer Server => fixture.Server;

    private async Task<bool> StoredAsync(ClusterIdentity identity, string id) =>
        await Server.Database.KeyExistsAsync(new JobKeys(identity.ServiceId).Job(id));

    [Fact]
    public async Task TheSweeperRemovesAFinishedJobAfterItsRetentionNeverBeforeAndItsIdIsFreeAgain()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(Server, identity, overrides: new Dictionary<string, string?>
        {
            ["Jobs:Retention:Succeeded"] = "00:00:03",
            ["Jobs:Retention:SweepInterval"] = "00:00:00.200",
        });
        await using var client = await RedisClient.StartAsync(Server, identity);

        var id = $"kept-{Guid.NewGuid():N}";
        await client.Jobs.EnqueueAsync(new Echo("short-lived"), id: id);
        var done = await client.WaitForAsync(id, s => s.Status == JobStatus.Succeeded);
        Assert.Equal(done.FinishedAt!.Value + TimeSpan.FromSeconds(3), done.ExpiresAt);
        var keys = new JobKeys(identity.ServiceId);
        var partition = JobKeys.PartitionOf(id);
        Assert.NotNull(await Server.Database.SortedSetScoreAsync(keys.Expiries(partition), id));

        // Watched in Redis only: no call reaches the job, so it is the sweeper that removes it.
        await Poll.UntilAsync(() => StoredAsync(identity, id), stored => !stored, timeout: TimeSpan.FromSeconds(60), what: "the sweeper to remove the job");
        Assert.True(DateTimeOffset.UtcNow >= done.ExpiresAt, "removed before its retention ended");
        foreach (var set in new[] { keys.ByStatus(partition, JobStatus.Succeeded), keys.ByStatusAndType(partition, JobStatus.Succeeded, "test_echo"), keys.Expiries(partition) })
        {
            Assert.Null(await Server.Database.SortedSetScoreAsync(set, id));
        }

        Assert.Null(await client.Jobs.GetAsync(id));
        Assert.Empty((await client.Jobs.ListAsync(new JobFilter { IdPrefix = id })).Items);
        var again = await client.Jobs.EnqueueAsync(new Echo("second life"), id: id);
        Assert.Equal(EnqueueOutcome.Created, again.Outcome);
        Assert.Equal(JobStatus.Succeeded, (await client.WaitForAsync(id, s => s.Status.IsTerminal())).Status);
    }

    [Fact]
    public async Task AnExpiredJobIsGoneForItsCallersEvenBeforeTheSweeperComes()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(Server, identity, overrides: new Dictionary<string, string?>
        {
            ["Jobs:Retention:Failed"] = "00:00:02",
            ["Jobs:Retention:SweepInterval"] = "01:00:00",
        });
        await using var client = await RedisClient.StartAsync(Server, identity);

        var id = $"lazy-{Guid.NewGuid():N}";
        await client.Jobs.EnqueueAsync(new Permanent("fails"), id: id);
        var failed = await client.WaitForAsync(id, s => s.Status == JobStatus.Failed);
        var gone = await Poll.UntilAsync(() => client.Jobs.GetAsync(id), s => s is null, timeout: TimeSpan.FromSeconds(60), what: "the job to expire");
        Assert.Null(gone);
        Assert.True(DateTimeOffset.UtcNow >= failed.ExpiresAt, "gone before its retention ended");
        Assert.False(await StoredAsync(identity, id));
        Assert.Equal(0, (await client.Jobs.CountsAsync("test_permanent")).Failed);
    }

    [Fact]
    public async Task ACapRemovesTheOldestJobsOfItsStateFirst()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(Server, identity, overrides: new Dictionary<string, string?>
        {
            ["Jobs:Retention:MaxFailed"] = "3",
            ["Jobs:Retention:SweepInterval"] = "00:00:00.200",
        });
        await using var client = await RedisClient.StartAsync(Server, identity);

        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            // One after the other, so creation order is certain.
            var id = $"cap-{i}-{Guid.NewGuid():N}";
            await client.Jobs.EnqueueAsync(new Permanent("fails"), id: id);
            await client.WaitForAsync(id, s => s.Status.IsTerminal());
            ids.Add(id);
        }

        await Poll.UntilAsync(() => client.Jobs.CountsAsync(), c => c.Failed == 3, timeout: TimeSpan.FromSeconds(60), what: "the cap to trim failed jobs to 3");
        var kept = new List<string>();
        await foreach (var job in client.Jobs.ListAllAsync(new JobFilter { Statuses = [JobStatus.Failed] }))
        {
            kept.Add(job.Id);
        }

        Assert.Equal(ids.Skip(3).Reverse(), kept);
    }

    [Fact]
    public async Task AJobTypesOwnRetentionWinsAndInfiniteKeepsForEver()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(Server, identity,
            overrides: new Dictionary<string, string?> { ["Jobs:Retention:Succeeded"] = "00:00:01" },
            jobs: all => all.Add<EchoHandler>(o => o.RetainSucceeded = Timeout.InfiniteTimeSpan));
        await using var client = await RedisClient.StartAsync(Server, identity);

        var id = $"forever-{Guid.NewGuid():N}";
        await client.Jobs.EnqueueAsync(new Echo("keep me"), id: id);
        var done = await client.WaitForAsync(id, s => s.Status == JobStatus.Succeeded);
        Assert.Null(done.ExpiresAt);
        Assert.Null(await Server.Database.SortedSetScoreAsync(new JobKeys(identity.ServiceId).Expiries(JobKeys.PartitionOf(id)), id));
        Assert.True(await StoredAsync(identity, id));
    }
}
