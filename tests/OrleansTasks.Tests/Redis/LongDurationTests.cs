using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// The whole documented range of durations runs: a year's delay, a year's backoff, a timeout beyond what one .NET
/// timer can wait (~49.7 days). The jobs' and the reminders' clocks are one fake clock, moved by the test.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class LongDurationTests(RedisFixture redis)
{
    private static Action<IServiceCollection> FakeClock(FakeTimeProvider clock) => services =>
    {
        services.AddKeyedSingleton<TimeProvider>(JobClock.Key, clock);
        services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, clock);
    };

    [Fact]
    public async Task AJobDelayedAYearIsScheduledSurvivesARestartAndStartsAtItsTimeNeverBefore()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var identity = ClusterIdentity.New();
        var silo = await RedisSilo.StartAsync(redis.Server, identity, services: FakeClock(clock));
        RedisSilo? restarted = null;
        try
        {
            string id;
            DateTimeOffset runAt;
            await using (var client = await RedisClient.StartAsync(redis.Server, identity))
            {
                var created = (await client.Jobs.EnqueueAsync(new Echo("next year"), new JobOptions { Delay = JobPolicy.DurationLimit })).Snapshot!;
                Assert.Equal(JobStatus.Scheduled, created.Status);
                id = created.Id;
                runAt = created.NextAttemptAt!.Value;
                Assert.Equal(clock.GetUtcNow() + JobPolicy.DurationLimit, runAt);
            }

            await silo.CrashAsync();
            restarted = await RedisSilo.StartAsync(redis.Server, identity, services: FakeClock(clock));
            await using var again = await RedisClient.StartAsync(redis.Server, identity);
            Assert.Equal(JobStatus.Scheduled, (await again.Jobs.GetAsync(id))!.Status);

            // A day short of the year: still waiting.
            clock.Advance(JobPolicy.DurationLimit - TimeSpan.FromDays(1));
            Assert.Equal(JobStatus.Scheduled, (await again.Jobs.GetAsync(id))!.Status);
            Assert.Equal(0, TestJobLog.ExecutionsOf(id));

            // Past it: the reminder fires and the job runs, not before its time.
            clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));
            var done = await Poll.UntilAsync(async () =>
            {
                // Each poll moves the fake clock a little, so the reminder's periodic ticks are due too.
                clock.Advance(TimeSpan.FromSeconds(1));
                return await again.Jobs.GetAsync(id);
            }, s => s!.Status.IsTerminal(), TimeSpan.FromSeconds(60), "the year-delayed job to run");
            Assert.Equal(JobStatus.Succeeded, done!.Status);
            Assert.True(done.StartedAt >= runAt, $"started {done.StartedAt:o}, due {runAt:o}");
        }
        finally
        {
            await silo.DisposeAsync();
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AYearLongBackoffAndASixtyDayTimeoutRunAsConfigured()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, services: FakeClock(clock));
        await using var client = await RedisClient.StartAsync(redis.Server, identity);

        // A 60-day timeout used to throw when the attempt's token source was created: the handler never ran and
        // the job burnt its attempts as interrupted.
        var longTimeout = (await client.Jobs.EnqueueAsync(new Echo("long timeout"), new JobOptions { Timeout = TimeSpan.FromDays(60) })).Snapshot!.Id;
        var done = await client.WaitForAsync(longTimeout, s => s.Status.IsTerminal());
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(1, done.Attempts);

        var yearly = new JobOptions { MinBackoff = JobPolicy.DurationLimit, MaxBackoff = JobPolicy.DurationLimit, MaxRetries = 1 };
        var id = (await client.Jobs.EnqueueAsync(new Flaky(1), yearly)).Snapshot!.Id;
        var retrying = await client.WaitForAsync(id, s => s.Status == JobStatus.Retrying);
        Assert.True(retrying.NextAttemptAt >= clock.GetUtcNow() + JobPolicy.DurationLimit - TimeSpan.FromMinutes(1));

        clock.Advance(JobPolicy.DurationLimit - TimeSpan.FromDays(1));
        Assert.Equal(JobStatus.Retrying, (await client.Jobs.GetAsync(id))!.Status);

        clock.Advance(JobPolicy.DurationLimit / 2 + TimeSpan.FromDays(2));
        var retried = await Poll.UntilAsync(async () =>
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            return await client.Jobs.GetAsync(id);
        }, s => s!.Status.IsTerminal(), TimeSpan.FromSeconds(60), "the retry a year later");
        Assert.Equal(JobStatus.Succeeded, retried!.Status);
        Assert.Equal(2, retried.Attempts);
        Assert.True(retried.History[1].StartedAt >= retrying.NextAttemptAt);
    }
}
