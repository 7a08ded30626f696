using Microsoft.Extensions.DependencyInjection;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// The rolling-deploy rule: a job option only newer silos know is refused with 503 while a silo that does not
/// advertise it is live, and accepted once every live silo does.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class FeatureRolloutTests(RedisFixture redis)
{
    [Fact]
    public async Task AMaxAgeIsRefusedWhileASiloOfAnOlderReleaseIsLiveAndAcceptedOnceItHasLeft()
    {
        var identity = ClusterIdentity.New();
        await using var newer = await RedisSilo.StartAsync(redis.Server, identity);

        // An older release publishes no features at all.
        var older = await RedisSilo.StartAsync(redis.Server, identity,
            services: s => s.AddSingleton(new AdvertisedFeatures([])));
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);

            // Wherever the grain lands, every live silo's metadata decides; enqueue a few to land on both.
            for (var i = 0; i < 6; i++)
            {
                var refused = await client.Jobs.EnqueueAsync(new Echo($"limited {i}"), new JobOptions { MaxAge = TimeSpan.FromMinutes(5) });
                Assert.Equal(EnqueueOutcome.Unavailable, refused.Outcome);
                Assert.Contains(JobFeatures.StartBy, refused.Detail, StringComparison.Ordinal);
                Assert.Null(refused.Snapshot);
            }

            var plain = await client.Jobs.EnqueueAsync(new Echo("no limit"));
            Assert.Equal(EnqueueOutcome.Created, plain.Outcome);

            await older.StopAsync();
            var accepted = await Poll.UntilAsync(() => client.Jobs.EnqueueAsync(new Echo("limited"), new JobOptions { MaxAge = TimeSpan.FromMinutes(5) }),
                r => r.Outcome != EnqueueOutcome.Unavailable, what: "maxAge to be accepted once only newer silos are live");
            Assert.Equal(EnqueueOutcome.Created, accepted.Outcome);
            Assert.Equal(JobStatus.Succeeded, (await client.WaitForAsync(accepted.Snapshot!.Id, s => s.Status.IsTerminal())).Status);
        }
        finally
        {
            await older.DisposeAsync();
        }
    }
}
