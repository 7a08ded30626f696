using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>A cancel is durable: no crash after its 202 brings the job back.</summary>
[Collection(RedisCollection.Name)]
public sealed class CancelDurabilityTests(RedisFixture redis)
{
    [Fact]
    public async Task ARunningJobCancelledJustBeforeItsSiloCrashesEndsCancelledOnTheNextSiloAndNeverRunsAgain()
    {
        var identity = ClusterIdentity.New();
        var gate = $"cancel-crash-{Guid.NewGuid():N}";
        // A long grace: the attempt can only end through the crash, so the cancel must come back from storage.
        var first = await RedisSilo.StartAsync(redis.Server, identity, overrides: new Dictionary<string, string?> { ["Jobs:CancelGrace"] = "00:10:00" });
        RedisSilo? second = null;
        try
        {
            var client = await RedisClient.StartAsync(redis.Server, identity);

            // A handler that ignores its token, so the attempt is still running when the silo dies.
            var id = (await client.Jobs.EnqueueAsync(new Stubborn(gate), new JobOptions { Timeout = TimeSpan.FromMinutes(5) })).Snapshot!.Id;
            await client.WaitForAsync(id, s => s.Status == JobStatus.Running);
            var accepted = await client.Jobs.CancelAsync(id);
            Assert.Equal(JobCommandOutcome.Accepted, accepted.Outcome);

            await first.CrashAsync();
            await client.DisposeAsync();
            second = await RedisSilo.StartAsync(redis.Server, identity);

            // A client of the new silo (the old one's gateway is gone).
            await using var after = await RedisClient.StartAsync(redis.Server, identity);
            var done = await after.WaitForAsync(id, s => s.Status.IsTerminal(), TimeSpan.FromSeconds(90));
            Assert.Equal(JobStatus.Cancelled, done.Status);
            Assert.Equal(AttemptOutcome.Cancelled, done.History[^1].Outcome);
            Assert.Single(done.History);
            Assert.Equal(1, TestJobLog.ExecutionsOf(id));
        }
        finally
        {
            TestJobLog.Open(gate);
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }
}
