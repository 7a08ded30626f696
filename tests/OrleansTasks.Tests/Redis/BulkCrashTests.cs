using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>A bulk operation is not lost with its silo: it resumes from its stored page on a survivor.</summary>
[Collection(RedisCollection.Name)]
public sealed class BulkCrashTests(RedisFixture redis)
{
    private const int Jobs = 2000;

    [Fact]
    public async Task ABulkCancelWhoseSiloCrashesMidwayCompletesOnTheSurvivorWithEveryJobCancelledAndCountedOnce()
    {
        var identity = ClusterIdentity.New();
        var silos = new List<RedisSilo>
        {
            await RedisSilo.StartAsync(redis.Server, identity),
            await RedisSilo.StartAsync(redis.Server, identity),
        };
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var run = $"bulk-crash-{Guid.NewGuid():N}"[..22];
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < Jobs)
                {
                    var result = await client.Jobs.EnqueueAsync(new Echo("later"), new JobOptions { Delay = TimeSpan.FromHours(1) }, $"{run}-{i:D5}");
                    Assert.Equal(EnqueueOutcome.Created, result.Outcome);
                }
            }));

            var filter = new JobFilter { Statuses = [JobStatus.Scheduled], IdPrefix = run };
            var started = await client.Jobs.StartBulkAsync(BulkAction.Cancel, filter);
            Assert.Equal(Jobs, started.Matched);

            // Crash the silo holding the operation once it has made progress, well before it ends.
            var midway = await Poll.UntilAsync(() => client.Jobs.GetBulkAsync(started.Id), s => s!.Completed || s.Done > 0,
                TimeSpan.FromSeconds(60), "the operation to make progress");
            Assert.False(midway!.Completed, $"the operation finished before the crash: {midway}");
            var host = silos.Single(s => midway.Silo!.Contains($":{s.SiloPort}:", StringComparison.Ordinal));
            await host.CrashAsync();
            silos.Remove(host);
            var survivor = silos.Single();

            // Watched through the job index only: nothing calls the operation until its jobs are all cancelled, so the
            // survivor can only have resumed it through its reminder.
            await Poll.UntilAsync(() => TryAsync<long?>(async () => await client.Jobs.CountMatchingAsync(filter)), left => left == 0, TimeSpan.FromSeconds(120),
                "every job to be cancelled after the crash");
            var done = await Poll.UntilAsync(() => TryAsync(() => client.Jobs.GetBulkAsync(started.Id)), s => s is { Completed: true }, TimeSpan.FromSeconds(60),
                "the operation to complete on the survivor");
            Assert.Contains($":{survivor.SiloPort}:", done!.Silo, StringComparison.Ordinal);
            Assert.True(midway.Done < Jobs, $"done {midway.Done} before the crash");
            Assert.Equal(Jobs, done.Matched);
            Assert.Equal(Jobs, done.Done);
            Assert.Equal(0, done.Failed);

            Assert.Equal(0, await client.Jobs.CountMatchingAsync(filter));
            var listed = new List<JobSummary>();
            await foreach (var job in client.Jobs.ListAllAsync(new JobFilter { IdPrefix = run }))
            {
                listed.Add(job);
            }

            Assert.Equal(Jobs, listed.Select(j => j.Id).Distinct().Count());
            Assert.All(listed, j => Assert.Equal(JobStatus.Cancelled, j.Status));
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    // While the cluster notices the crash, calls may be rejected or time out; the poll carries on.
    private static async Task<T?> TryAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is OrleansException or TimeoutException)
        {
            return default;
        }
    }
}
