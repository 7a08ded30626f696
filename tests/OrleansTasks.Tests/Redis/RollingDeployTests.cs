using OrleansTasks.Examples;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>A rolling deploy: a job never fails, and is never refused, because of which silo it landed on.</summary>
[Collection(RedisCollection.Name)]
public sealed class RollingDeployTests(RedisFixture redis)
{
    [Fact]
    public async Task JobsOfATypeOnlyTheNewerSiloKnowsAreAcceptedAndRunThereWhereverTheyLand()
    {
        var identity = ClusterIdentity.New();
        await using var newer = await RedisSilo.StartAsync(redis.Server, identity);
        await using var older = await RedisSilo.StartAsync(redis.Server, identity, jobs: jobs => jobs.AddExampleJobs());
        await using var client = await RedisClient.StartAsync(redis.Server, identity);

        // Random placement puts about half of these job grains on the older silo, which has no handler for them.
        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var result = await client.Jobs.EnqueueAsync(new Echo($"new type {i}"), new JobOptions { MaxRetries = 0 });
            Assert.True(result.Outcome == EnqueueOutcome.Created, $"enqueue {i}: {result.Outcome} {result.Detail} {string.Join("; ", result.Errors?.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}") ?? [])}");
            ids.Add(result.Snapshot!.Id);
        }

        // A bad payload is still refused with the newer silo's field errors, wherever the grain landed.
        for (var i = 0; i < 6; i++)
        {
            var bad = await client.Jobs.EnqueueAsync("test_echo", """{"value": 42}""");
            Assert.Equal(EnqueueOutcome.Invalid, bad.Outcome);
            Assert.True(bad.Errors!.ContainsKey("payload.value"), string.Join(", ", bad.Errors.Keys));
        }

        // A type no silo has is unknown, and the message lists what the cluster knows.
        var unknown = await client.Jobs.EnqueueAsync("no_such_type", "{}");
        Assert.Equal(EnqueueOutcome.Invalid, unknown.Outcome);
        Assert.Contains("test_echo", unknown.Errors!["type"][0], StringComparison.Ordinal);

        foreach (var id in ids)
        {
            var done = await client.WaitForAsync(id, s => s.Status.IsTerminal());
            Assert.Equal(JobStatus.Succeeded, done.Status);
            Assert.Equal(1, done.Attempts);
            Assert.All(done.History, a => Assert.True(newer.Ran(a), $"{id} ran on {a.Silo}"));
        }
    }
}
