using OrleansTasks.Examples;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>Why a job waits, for the reasons that need a silo of their own: a type no live silo has, a long cancel grace.</summary>
[Collection(RedisCollection.Name)]
public sealed class WaitingForRedisTests(RedisFixture redis)
{
    [Fact]
    public async Task AJobWhoseTypeNoLiveSiloRegistersWaitsForOneAndRunsWhenOneJoins()
    {
        var identity = ClusterIdentity.New();
        var newer = await RedisSilo.StartAsync(redis.Server, identity);
        await using var older = await RedisSilo.StartAsync(redis.Server, identity, jobs: jobs => jobs.AddExampleJobs());
        RedisSilo? again = null;
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var id = (await client.Jobs.EnqueueAsync(new Echo("after the rollback"), new JobOptions { Delay = TimeSpan.FromSeconds(3) })).Snapshot!.Id;

            // The only silo with the type leaves before the job is due: the job comes due on a silo without it.
            await newer.StopAsync();
            var stranded = await client.WaitForAsync(id, s => s.WaitingFor?.Reason == JobWaitingReasons.NoSiloForType,
                TimeSpan.FromSeconds(60));
            Assert.Null(stranded.WaitingFor!.Until);
            Assert.Contains("test_echo", stranded.WaitingFor.Detail, StringComparison.Ordinal);

            again = await RedisSilo.StartAsync(redis.Server, identity);
            var done = await client.WaitForAsync(id, s => s.Status.IsTerminal(), TimeSpan.FromSeconds(90));
            Assert.Equal(JobStatus.Succeeded, done.Status);
            Assert.True(again.Ran(done.History[^1]));
            Assert.Null(done.WaitingFor);
        }
        finally
        {
            await newer.DisposeAsync();
            if (again is not null)
            {
                await again.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ARunningJobWithAPendingCancelWaitsUntilTheCancelGraceEnds()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, overrides: new Dictionary<string, string?> { ["Jobs:CancelGrace"] = "00:05:00" });
        await using var client = await RedisClient.StartAsync(redis.Server, identity);
        var gate = $"cancel-pending-{Guid.NewGuid():N}";
        try
        {
            var id = (await client.Jobs.EnqueueAsync(new Stubborn(gate))).Snapshot!.Id;
            var running = await client.WaitForAsync(id, s => s.Status == JobStatus.Running);
            Assert.Null(running.WaitingFor);

            var accepted = await client.Jobs.CancelAsync(id);
            Assert.Equal(JobCommandOutcome.Accepted, accepted.Outcome);
            var pending = (await client.Jobs.GetAsync(id))!;
            Assert.Equal(JobStatus.Running, pending.Status);
            Assert.Equal(JobWaitingReasons.CancelPending, pending.WaitingFor!.Reason);
            Assert.Equal(accepted.Snapshot!.CancelRequestedAt!.Value.AddMinutes(5), pending.WaitingFor.Until);

            TestJobLog.Open(gate);
            var done = await client.WaitForAsync(id, s => s.Status.IsTerminal());
            Assert.Equal(JobStatus.Cancelled, done.Status);
            Assert.Null(done.WaitingFor);
        }
        finally
        {
            TestJobLog.Open(gate);
        }
    }
}
