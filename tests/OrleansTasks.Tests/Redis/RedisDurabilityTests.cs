using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansTasks.Tests.Redis;

[Collection(RedisCollection.Name)]
public sealed class RedisDurabilityTests(RedisFixture redis)
{
    private RedisServer Server => redis.Server;

    private async Task<string[]> KeysAsync(string pattern)
    {
        var server = Server.Connection.GetServers().Single();
        var keys = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: pattern))
        {
            keys.Add(key.ToString());
        }

        return [.. keys];
    }

    private async Task<string[]> ReminderRowsAsync(string serviceId) =>
        [.. (await Server.Database.SortedSetRangeByRankAsync($"{serviceId}/reminders")).Select(v => v.ToString())];

    [Fact]
    public async Task JobStateAndItsWakeUpAreInRedisWhenEnqueueReturnsAndTheWakeUpGoesWhenItEnds()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(Server, identity);
        await using var client = await RedisClient.StartAsync(Server, identity);

        var id = $"stored-{Guid.NewGuid():N}";
        var created = await client.Jobs.EnqueueAsync(new Echo("kept in redis"), new JobOptions { Delay = TimeSpan.FromSeconds(2) }, id);
        Assert.Equal(JobStatus.Scheduled, created.Snapshot!.Status);

        // Nothing polled yet: what is in Redis now was written before EnqueueAsync returned.
        var stateKey = Assert.Single(await KeysAsync($"{{{identity.ServiceId}/jobs/*}}/job/{id}"));
        var stored = await HashText(stateKey);
        Assert.Contains("kept in redis", stored, StringComparison.Ordinal);

        Assert.Contains(await ReminderRowsAsync(identity.ServiceId), row => row.Contains(id, StringComparison.Ordinal));

        var done = await client.WaitForAsync(id, s => s.Status.IsTerminal());
        Assert.Equal(JobStatus.Succeeded, done.Status);
        await Poll.UntilAsync(() => ReminderRowsAsync(identity.ServiceId), rows => !rows.Any(r => r.Contains(id, StringComparison.Ordinal)),
            what: "the finished job's reminder to be removed");
    }

    [Fact]
    public async Task LookingUpAnUnknownIdWritesNothing()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(Server, identity);
        await using var client = await RedisClient.StartAsync(Server, identity);
        var before = (await KeysAsync($"*{identity.ServiceId}*")).Order().ToArray();

        var id = $"nobody-{Guid.NewGuid():N}";
        Assert.Null(await client.Jobs.GetAsync(id));
        Assert.Null(await client.Jobs.GetAsync(id));

        Assert.Empty(await KeysAsync($"*{id}*"));
        Assert.Equal(before, (await KeysAsync($"*{identity.ServiceId}*")).Order().ToArray());
    }

    [Fact]
    public async Task EveryJobReachesItsTerminalStateAfterTheOnlySiloCrashesAndAFreshOneStarts()
    {
        var identity = ClusterIdentity.New();
        var run = Guid.NewGuid().ToString("N");
        var resumeGate = $"resume-{run}";
        var neverGate = $"never-{run}";
        var silo = await RedisSilo.StartAsync(Server, identity);
        var client = await RedisClient.StartAsync(Server, identity);

        var delayed = await client.Jobs.EnqueueAsync(new Echo("delayed"), new JobOptions { Delay = TimeSpan.FromSeconds(3) }, $"delayed-{run}");
        var retrying = await client.Jobs.EnqueueAsync(new Flaky(FailTimes: 1), new JobOptions { MinBackoff = TimeSpan.FromSeconds(3) }, $"retrying-{run}");
        var doomed = await client.Jobs.EnqueueAsync(new Gate(neverGate), new JobOptions { MaxRetries = 0 }, $"doomed-{run}");
        var gated = new List<string>();
        for (var i = 0; i < TestSiloSettings.MaxConcurrency + 2; i++)
        {
            gated.Add((await client.Jobs.EnqueueAsync(new Gate(resumeGate), new JobOptions { MaxRetries = 2 }, $"gated-{run}-{i}")).Snapshot!.Id);
        }

        var quick = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            quick.Add((await client.Jobs.EnqueueAsync(new Echo($"quick {i}"), id: $"quick-{run}-{i}")).Snapshot!.Id);
        }

        await client.WaitForAsync(retrying.Snapshot!.Id, s => s.Status == JobStatus.Retrying);
        await client.WaitForAsync(doomed.Snapshot!.Id, s => s.Status == JobStatus.Running);
        var states = await Task.WhenAll(gated.Select(client.Jobs.GetAsync));
        Assert.Contains(states, s => s!.Status == JobStatus.Running);
        Assert.Contains(states, s => s!.Status == JobStatus.Queued);
        Assert.Equal(JobStatus.Scheduled, (await client.Jobs.GetAsync(delayed.Snapshot!.Id))!.Status);

        // Jobs waiting for a time have a reminder; queued and running ones have none: the recovery sweeper, not a
        // reminder per job, must bring them back.
        var rows = await ReminderRowsAsync(identity.ServiceId);
        Assert.Contains(rows, r => r.Contains(delayed.Snapshot.Id, StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains(retrying.Snapshot.Id, StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => gated.Append(doomed.Snapshot!.Id).Any(id => r.Contains(id, StringComparison.Ordinal)));

        await client.DisposeAsync();
        await silo.CrashAsync();
        TestJobLog.Open(resumeGate);

        // A restarted silo on the same endpoint supersedes the dead one at once, as after a process restart.
        await using var fresh = await RedisSilo.StartAsync(Server, identity, silo.SiloPort);
        await using var freshClient = await RedisClient.StartAsync(Server, identity);

        var delayedDone = await freshClient.WaitForAsync(delayed.Snapshot.Id, s => s.Status.IsTerminal());
        Assert.Equal(JobStatus.Succeeded, delayedDone.Status);
        Assert.True(delayedDone.History[0].StartedAt >= delayed.Snapshot.ScheduledFor);

        var retryDone = await freshClient.WaitForAsync(retrying.Snapshot.Id, s => s.Status.IsTerminal());
        Assert.Equal(JobStatus.Succeeded, retryDone.Status);
        Assert.Equal(2, retryDone.Attempts);

        // Behaviour 3: the attempt cut short by the crash counts, so a job with no retries left fails.
        var doomedDone = await freshClient.WaitForAsync(doomed.Snapshot.Id, s => s.Status.IsTerminal());
        Assert.Equal(JobStatus.Failed, doomedDone.Status);
        Assert.Equal(1, doomedDone.Attempts);
        Assert.Equal("AttemptInterrupted", doomedDone.LastError!.Type);
        Assert.Equal(AttemptOutcome.Interrupted, Assert.Single(doomedDone.History).Outcome);

        var resumed = 0;
        foreach (var id in gated)
        {
            var done = await freshClient.WaitForAsync(id, s => s.Status.IsTerminal());
            resumed += done.History.Count > 1 ? 1 : 0;
            Assert.Equal(JobStatus.Succeeded, done.Status);
            if (done.History.Count > 1)
            {
                // It was running at the crash: one interrupted attempt, counted, then success.
                Assert.Equal([AttemptOutcome.Interrupted, AttemptOutcome.Succeeded], done.History.Select(a => a.Outcome));
                Assert.Equal(2, done.Attempts);
            }
        }

        // At least the gated jobs running at the crash. An in-process "crash" is a stop cut short, not a killed
        // process: the stopped silo's leftover pumps may still hand a running attempt off and start a queued job,
        // which the fresh silo then finds running and counts as interrupted the same way.
        Assert.InRange(resumed, TestSiloSettings.MaxConcurrency - 1, gated.Count);

        foreach (var id in quick)
        {
            Assert.Equal(JobStatus.Succeeded, (await freshClient.WaitForAsync(id, s => s.Status.IsTerminal())).Status);
        }

        TestJobLog.Open(neverGate);
    }

    private async Task<string> HashText(string key) =>
        string.Join(" ", (await Server.Database.HashGetAllAsync(key)).Select(e => $"{e.Name}={e.Value}"));
}
