using System.Diagnostics;
using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>Three silos on one real redis-server: spread, failover on a crash, hand-off on a graceful stop.</summary>
[Collection(RedisCollection.Name)]
public sealed class MultiSiloTests(RedisFixture redis)
{
    // Orleans' default failure detection and a long recovery tick: a job that waited for either instead of being
    // handed off would restart after 15 s or more.
    private static readonly Dictionary<string, string?> SlowDetection = new()
    {
        ["Orleans:Membership:ProbeTimeout"] = "00:00:05",
        ["Orleans:Membership:NumMissedProbesLimit"] = "3",
        ["Orleans:Membership:NumVotesForDeathDeclaration"] = "2",
        ["Orleans:Membership:TableRefreshTimeout"] = "00:01:00",
        ["Jobs:RecoveryInterval"] = "00:01:00",
    };

    private static async Task<List<RedisSilo>> StartSilosAsync(RedisServer server, ClusterIdentity identity, int count,
        IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var silos = new List<RedisSilo>();
        for (var i = 0; i < count; i++)
        {
            silos.Add(await RedisSilo.StartAsync(server, identity, overrides: overrides));
        }

        return silos;
    }

    private static async Task StopAllAsync(IEnumerable<RedisSilo> silos)
    {
        foreach (var silo in silos)
        {
            await silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task JobsRunOnEverySiloInRoughlyEqualShares()
    {
        var identity = ClusterIdentity.New();
        var silos = await StartSilosAsync(redis.Server, identity, 3);
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var ids = new List<string>();
            for (var i = 0; i < 150; i++)
            {
                ids.Add((await client.Jobs.EnqueueAsync(new Echo($"spread {i}"))).Snapshot!.Id);
            }

            var done = new List<JobSnapshot>();
            foreach (var id in ids)
            {
                done.Add(await client.WaitForAsync(id, s => s.Status.IsTerminal()));
            }

            Assert.All(done, d => Assert.Equal(JobStatus.Succeeded, d.Status));
            var perSilo = silos.Select(silo => done.Count(d => silo.Ran(d.History[0]))).ToArray();
            Assert.Equal(ids.Count, perSilo.Sum());

            // A fair share is 50 each; random placement stays well inside [20, 90] (about 5 standard deviations).
            Assert.All(perSilo, n => Assert.InRange(n, 20, 90));
        }
        finally
        {
            await StopAllAsync(silos);
        }
    }

    [Fact]
    public async Task JobsOfACrashedSiloFinishOnTheSurvivorsAndTheCutAttemptsCount()
    {
        var identity = ClusterIdentity.New();
        var silos = await StartSilosAsync(redis.Server, identity, 3);
        var gate = $"failover-{Guid.NewGuid():N}";
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var retrying = new List<string>();
            for (var i = 0; i < 6; i++)
            {
                retrying.Add((await client.Jobs.EnqueueAsync(new Flaky(1), new JobOptions { MinBackoff = TimeSpan.FromSeconds(8) })).Snapshot!.Id);
            }

            foreach (var id in retrying)
            {
                await client.WaitForAsync(id, s => s.Status == JobStatus.Retrying);
            }

            var held = new List<string>();
            for (var i = 0; i < 18; i++)
            {
                held.Add((await client.Jobs.EnqueueAsync(new Gate(gate), new JobOptions { MaxRetries = 3 })).Snapshot!.Id);
            }

            // 18 held jobs over 3 pools of 4: the silos run what they can and queue the rest.
            await Poll.UntilAsync(() => Task.FromResult(RedisSilo.PoolsSettled(silos, held.Count)), settled => settled, what: "the pools to settle");
            var running = await Task.WhenAll(held.Select(client.Jobs.GetAsync));

            var victim = silos.First(s => running.Any(j => j!.Status == JobStatus.Running && s.Ran(j.History[^1])));
            var runningOnVictim = running.Where(j => j!.Status == JobStatus.Running && victim.Ran(j.History[^1])).Select(j => j!.Id).ToHashSet();
            Assert.NotEmpty(runningOnVictim);

            await victim.CrashAsync();
            silos.Remove(victim);
            TestJobLog.Open(gate);

            foreach (var id in held.Concat(retrying))
            {
                var done = await client.WaitForAsync(id, s => s.Status.IsTerminal(), TimeSpan.FromSeconds(90));
                Assert.Equal(JobStatus.Succeeded, done.Status);
                Assert.False(victim.Ran(done.History[^1]), $"{id} finished on the dead silo");
                if (runningOnVictim.Contains(id))
                {
                    Assert.Equal([AttemptOutcome.Interrupted, AttemptOutcome.Succeeded], done.History.Select(a => a.Outcome));
                    Assert.True(victim.Ran(done.History[0]));
                    Assert.Equal(2, done.Attempts);
                }
            }
        }
        finally
        {
            TestJobLog.Open(gate);
            await StopAllAsync(silos);
        }
    }

    [Fact]
    public async Task WhenTheSiloHostingTheRecoverySweeperCrashesTheSweeperComesBackAndItsRunningJobsFinishOnTheSurvivor()
    {
        var identity = ClusterIdentity.New();
        var silos = await StartSilosAsync(redis.Server, identity, 2);
        var gate = $"sweeper-host-{Guid.NewGuid():N}";
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var management = client.Grains.GetGrain<IManagementGrain>(0);
            async Task<RedisSilo?> SweeperHostAsync() =>
                (await management.GetDetailedGrainStatistics()).Where(g => g.GrainId.Type.ToString() == "recovery")
                    .Select(g => silos.SingleOrDefault(silo => g.SiloAddress.Endpoint.Port == silo.SiloPort)).FirstOrDefault(h => h is not null);

            await client.Grains.GetGrain<IJobRecoveryGrain>(0).SweepNowAsync();
            var victim = await SweeperHostAsync() ?? throw new InvalidOperationException("The recovery sweeper is active on no silo.");

            var held = new List<string>();
            for (var i = 0; i < 12; i++)
            {
                held.Add((await client.Jobs.EnqueueAsync(new Gate(gate), new JobOptions { MaxRetries = 3 })).Snapshot!.Id);
            }

            await Poll.UntilAsync(() => Task.FromResult(RedisSilo.PoolsSettled(silos, held.Count)), settled => settled, what: "the pools to settle");
            var running = await Task.WhenAll(held.Select(client.Jobs.GetAsync));
            var runningOnVictim = running.Where(j => j!.Status == JobStatus.Running && victim.Ran(j.History[^1])).Select(j => j!.Id).ToHashSet();
            Assert.NotEmpty(runningOnVictim);

            // Those jobs have no reminder: only the sweeper, itself on the dead silo, can bring them back. Watched in
            // Redis only until they are done, since a query would activate (and so resume) a job by itself.
            await victim.CrashAsync();
            silos.Remove(victim);
            TestJobLog.Open(gate);
            var keys = new JobKeys(identity.ServiceId);
            await Poll.UntilAsync(() => Task.WhenAll(held.Select(id => redis.Server.Database.HashGetAsync(keys.Job(id), "s"))),
                statuses => statuses.All(st => st == "succeeded"), TimeSpan.FromSeconds(90), "every held job to be stored succeeded");

            foreach (var id in held)
            {
                var done = (await client.Jobs.GetAsync(id))!;
                Assert.Equal(JobStatus.Succeeded, done.Status);
                Assert.False(victim.Ran(done.History[^1]), $"{id} finished on the dead silo");
                if (runningOnVictim.Contains(id))
                {
                    Assert.Equal([AttemptOutcome.Interrupted, AttemptOutcome.Succeeded], done.History.Select(a => a.Outcome));
                    Assert.Equal(2, done.Attempts);
                }
            }

            Assert.Same(silos.Single(), await Poll.UntilAsync(SweeperHostAsync, host => host is not null, what: "the sweeper on the survivor"));
        }
        finally
        {
            TestJobLog.Open(gate);
            await StopAllAsync(silos);
        }
    }

    [Fact]
    public async Task GracefulStopHandsRunningJobsOnAtOnceWithoutCountingTheAttempt()
    {
        var identity = ClusterIdentity.New();
        var silos = await StartSilosAsync(redis.Server, identity, 3, SlowDetection);
        var gate = $"handoff-{Guid.NewGuid():N}";
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            // Three jobs fit in any one survivor's free slots, wherever random placement puts them.
            var ids = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                ids.Add((await client.Jobs.EnqueueAsync(new Gate(gate), new JobOptions { MaxRetries = 0 })).Snapshot!.Id);
            }

            await Poll.UntilAsync(() => Task.FromResult(RedisSilo.PoolsSettled(silos, ids.Count)), settled => settled, what: "the pools to settle");
            var running = (await Task.WhenAll(ids.Select(client.Jobs.GetAsync))).Where(j => j!.Status == JobStatus.Running).ToList();
            var leaving = silos.First(s => running.Any(j => s.Ran(j!.History[^1])));
            var handedOff = running.Where(j => leaving.Ran(j!.History[^1])).Select(j => j!.Id).ToList();

            var stopping = Stopwatch.StartNew();
            await leaving.StopAsync();
            silos.Remove(leaving);
            var restarted = await Poll.UntilAsync(() => Task.WhenAll(handedOff.Select(client.Jobs.GetAsync)),
                all => all.All(s => s!.Status == JobStatus.Running && !leaving.Ran(s.History[^1])), TimeSpan.FromSeconds(60), "handed-off jobs to run elsewhere");
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(12), $"hand-off took {stopping.Elapsed}");

            TestJobLog.Open(gate);
            foreach (var job in restarted)
            {
                var done = await client.WaitForAsync(job!.Id, s => s.Status.IsTerminal());

                // MaxRetries is 0: had the handed-off attempt counted, the job could not have run again.
                Assert.Equal(JobStatus.Succeeded, done.Status);
                Assert.Equal([AttemptOutcome.HandedOff, AttemptOutcome.Succeeded], done.History.Select(a => a.Outcome));
                Assert.Equal(1, done.Attempts);
            }
        }
        finally
        {
            TestJobLog.Open(gate);
            await StopAllAsync(silos);
        }
    }

    [Fact]
    public async Task GracefulStopWithABacklogHandsEveryQueuedAndRunningJobOnWithoutCountingAny()
    {
        // MaxRetries 0 makes a counted (interrupted) attempt fail its job.
        var identity = ClusterIdentity.New();
        var silos = await StartSilosAsync(redis.Server, identity, 2, SlowDetection);
        var gate = $"backlog-{Guid.NewGuid():N}";
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var ids = new List<string>();
            for (var i = 0; i < 24; i++)
            {
                ids.Add((await client.Jobs.EnqueueAsync(new Gate(gate), new JobOptions { MaxRetries = 0 })).Snapshot!.Id);
            }

            // Two pools of 4 run 8; the other 16 wait in the silos' queues. Stopping one silo frees its slots while
            // its own queued jobs are still waiting for them: each of those must be handed on, not begun and dropped.
            await Poll.UntilAsync(() => Task.FromResult(RedisSilo.PoolsSettled(silos, ids.Count)), settled => settled, what: "the pools to settle");
            var leaving = silos[0];
            Assert.True(leaving.Runner.Waiting > 0, "the leaving silo has no backlog");

            var stopping = Stopwatch.StartNew();
            await leaving.StopAsync();
            silos.Remove(leaving);
            TestJobLog.Open(gate);

            foreach (var id in ids)
            {
                var done = await client.WaitForAsync(id, s => s.Status.IsTerminal(), TimeSpan.FromSeconds(50));
                Assert.Equal(JobStatus.Succeeded, done.Status);
                Assert.Equal(1, done.Attempts);
                Assert.DoesNotContain(done.History, a => a.Outcome == AttemptOutcome.Interrupted);
                Assert.All(done.History.SkipLast(1), a => Assert.Equal(AttemptOutcome.HandedOff, a.Outcome));
            }

            // Well inside the one-minute recovery tick that an unrecorded job would have waited for.
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(50), $"the backlog took {stopping.Elapsed}");
        }
        finally
        {
            TestJobLog.Open(gate);
            await StopAllAsync(silos);
        }
    }

    [Fact]
    public async Task APeersCrashLeavesTheSurvivorsOwnRunningJobsRunningAndRecordsThemTruthfully()
    {
        // A peer's death makes Orleans deactivate the survivor's activations whose directory entries the dead silo
        // held. Those jobs run here, on a live silo: they must finish here, once, not be recorded as handed off by a
        // silo that is not shutting down.
        var identity = ClusterIdentity.New();
        var logs = new LogCapture();
        var survivor = await RedisSilo.StartAsync(redis.Server, identity, logs: logs);
        var victim = await RedisSilo.StartAsync(redis.Server, identity);
        var silos = new List<RedisSilo> { survivor, victim };
        var gate = $"peer-crash-{Guid.NewGuid():N}";
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var ids = new List<string>();
            // Which activations lose their directory entry depends on the hash ring: with 24 jobs (4 running and
            // about 8 queued on each silo) some of the survivor's are all but certain to have theirs on the victim.
            for (var i = 0; i < 24; i++)
            {
                ids.Add((await client.Jobs.EnqueueAsync(new Gate(gate), new JobOptions { MaxRetries = 3 })).Snapshot!.Id);
            }

            await Poll.UntilAsync(() => Task.FromResult(RedisSilo.PoolsSettled(silos, ids.Count)), settled => settled, what: "the pools to settle");
            var running = await Task.WhenAll(ids.Select(client.Jobs.GetAsync));
            var onSurvivor = running.Where(j => j!.Status == JobStatus.Running && survivor.Ran(j.History[^1])).Select(j => j!.Id).ToList();
            Assert.NotEmpty(onSurvivor);

            await victim.CrashAsync();
            silos.Remove(victim);

            // The survivor has declared the peer dead and dropped the directory entries it held.
            var management = client.Grains.GetGrain<IManagementGrain>(0);
            await Poll.UntilAsync(async () => (await management.GetHosts(onlyActive: true)).Count, n => n == 1, TimeSpan.FromSeconds(60), "the peer to be declared dead");
            // Orleans then deactivates the survivor's activations whose directory entries the dead silo held; in most
            // runs some are the survivor's jobs (it happened in 4 of 5 runs here, and before the fix every such run
            // recorded a hand-off), but it is not promised, so the wait for it may run out and the job records are
            // checked either way.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < deadline && !logs.Entries.Any(e => e.EventId.Name == "LogDeactivatedWhileActive"))
            {
                await Task.Delay(100);
            }

            TestJobLog.Open(gate);
            foreach (var id in onSurvivor)
            {
                var done = await client.WaitForAsync(id, s => s.Status.IsTerminal(), TimeSpan.FromSeconds(90));
                Assert.Equal(JobStatus.Succeeded, done.Status);
                Assert.Equal([AttemptOutcome.Succeeded], done.History.Select(a => a.Outcome));
                Assert.True(survivor.Ran(done.History[0]));
            }

            Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("shut", StringComparison.OrdinalIgnoreCase) && e.Category.StartsWith("OrleansTasks", StringComparison.Ordinal));
        }
        finally
        {
            TestJobLog.Open(gate);
            await StopAllAsync(silos);
        }
    }
}
