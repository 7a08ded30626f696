using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;
using OrleansTasks.Jobs;
using OrleansTasks.Schedules;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// Schedules through crashes, downtime and restarts on a real redis-server: the reminder brings a schedule back on a
/// survivor, missed occurrences follow the misfire policy, a pause and a deletion outlive silos, code-declared
/// schedules are applied once, and the overlap policies hold against a job that outlasts the interval.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ScheduleDurabilityTests(RedisFixture redis)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private static string NewId(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    private static ScheduleDefinition EchoEvery(TimeSpan every, string value, OverlapPolicy overlap = OverlapPolicy.Allow,
        MisfirePolicy misfire = MisfirePolicy.RunOnce) => new()
        {
            Type = "test_echo",
            PayloadJson = $$"""{"value":"{{value}}"}""",
            Every = every,
            Overlap = overlap,
            Misfire = misfire,
        };

    /// <summary>The planned instant an occurrence job id names (<c>{scheduleId}:{yyyyMMddTHHmmssZ}</c>).</summary>
    private static DateTimeOffset OccurrenceOf(string jobId) =>
        DateTimeOffset.ParseExact(jobId[(jobId.LastIndexOf(':') + 1)..], "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>The occurrences a schedule made jobs for (manual triggers aside), oldest first, from the job listing.</summary>
    private static async Task<List<DateTimeOffset>> OccurrencesAsync(RedisClient client, string id) =>
        [.. (await client.Jobs.ListAllIdsAsync($"{id}:")).Where(j => !j.Contains(":manual:", StringComparison.Ordinal)).Select(OccurrenceOf).Order()];

    /// <summary>Lets wall-clock time pass: the downtime or pause a test is about, not a wait for background work.</summary>
    private static Task LetTimePassAsync(TimeSpan span)
    {
        var until = DateTimeOffset.UtcNow + span;
        return Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow), now => now >= until, span + TimeSpan.FromSeconds(5), "time to pass");
    }

    private static void AssertContiguous(IReadOnlyList<DateTimeOffset> occurrences, TimeSpan every, string what)
    {
        foreach (var (earlier, later) in occurrences.Zip(occurrences.Skip(1)))
        {
            Assert.True(later - earlier == every, $"{what}: a gap or a duplicate between {earlier:o} and {later:o}");
        }
    }

    [Fact]
    public async Task WhenTheSiloOwningAScheduleIsKilledTheNextOccurrencesFireOnTheSurvivor()
    {
        var identity = ClusterIdentity.New();
        var silos = new List<RedisSilo> { await RedisSilo.StartAsync(redis.Server, identity), await RedisSilo.StartAsync(redis.Server, identity) };
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var id = NewId("failover");
            Assert.Equal(ScheduleOutcome.Created, (await client.Schedules.UpsertAsync(id, EchoEvery(TimeSpan.FromSeconds(1), "failover"))).Outcome);
            await Poll.UntilAsync(() => OccurrencesAsync(client, id), o => o.Count >= 2, Generous, "two occurrences before the crash");

            var management = client.Grains.GetGrain<IManagementGrain>(0);
            var owner = await management.GetActivationAddress(client.Grains.GetGrain<IScheduleGrain>(id));
            Assert.NotNull(owner);
            var victim = silos.Single(s => s.SiloPort == owner.Endpoint.Port);
            var survivor = silos.Single(s => s != victim);

            var crashedAt = DateTimeOffset.UtcNow;
            await victim.CrashAsync();
            silos.Remove(victim);

            // Nothing calls the schedule from here on: only its reminder can bring it back, on the survivor, after
            // failure detection and a tick.
            var after = await Poll.UntilAsync(async () => (await OccurrencesAsync(client, id)).Where(o => o > crashedAt).ToList(),
                o => o.Count >= 4, TimeSpan.FromSeconds(90), "four occurrences after the crash");

            // On time again, not just what each recovery tick (2 s apart) finds missed: the survivor's timer is back.
            AssertContiguous(after[^3..], TimeSpan.FromSeconds(1), "after the failover");
            var latest = (await client.Schedules.GetAsync(id))!.RecentRuns.Take(3).ToList();
            Assert.True(latest.All(r => r is { Kind: "scheduled", JobId: not null }),
                $"not fired on time after the failover: {string.Join(", ", latest.Select(r => $"{r.Occurrence:HH:mm:ss} {r.Kind}"))}");
            foreach (var occurrence in after)
            {
                var jobId = ScheduleId.JobIdFor(id, occurrence);
                var job = await client.WaitForAsync(jobId, s => s.Status.IsTerminal(), Generous);
                Assert.Equal(JobStatus.Succeeded, job.Status);
                Assert.All(job.History, attempt => Assert.True(survivor.Ran(attempt), $"{jobId} ran on {attempt.Silo}, not on the survivor"));
                Assert.Equal(1, TestJobLog.ExecutionsOf(jobId));
            }

            var newOwner = await management.GetActivationAddress(client.Grains.GetGrain<IScheduleGrain>(id));
            Assert.Equal(survivor.SiloPort, newOwner?.Endpoint.Port);
            Assert.True(await client.Schedules.DeleteAsync(id));
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AfterTheOnlySiloWasDownForTenOccurrencesRunOnceMakesOneCatchUpJobRunAllMakesEveryOneAndSkipNone()
    {
        var every = TimeSpan.FromSeconds(2);
        var identity = ClusterIdentity.New();
        var silo = await RedisSilo.StartAsync(redis.Server, identity);
        RedisSilo? restarted = null;
        try
        {
            var once = NewId("once");
            string deleted;
            var all = NewId("all");
            var skip = NewId("skip");
            var window = NewId("window");
            await using (var before = await RedisClient.StartAsync(redis.Server, identity))
            {
                // runAll within a 5 s catch-up window: only the occurrences missed by less than that are made.
                await before.Schedules.UpsertAsync(window, EchoEvery(every, "window", misfire: MisfirePolicy.RunAll) with { CatchUpWindow = TimeSpan.FromSeconds(5) });
                await before.Schedules.UpsertAsync(once, EchoEvery(every, "once", misfire: MisfirePolicy.RunOnce));
                await before.Schedules.UpsertAsync(all, EchoEvery(every, "all", misfire: MisfirePolicy.RunAll));
                await before.Schedules.UpsertAsync(skip, EchoEvery(every, "skip", misfire: MisfirePolicy.Skip));
                foreach (var id in new[] { once, all, skip, window })
                {
                    await Poll.UntilAsync(() => OccurrencesAsync(before, id), o => o.Count >= 2, Generous, $"{id} to fire twice before the stop");
                }

                // An occurrence's job deleted before the downtime is not made again by the catch-up.
                deleted = ScheduleId.JobIdFor(all, (await OccurrencesAsync(before, all))[^1]);
                await before.WaitForAsync(deleted, s => s.Status.IsTerminal());
                Assert.Equal(JobCommandOutcome.Done, (await before.Jobs.DeleteAsync(deleted)).Outcome);
            }

            await silo.StopAsync();
            var stoppedAt = DateTimeOffset.UtcNow;

            // Ten occurrences and a little more fall while no silo runs.
            await LetTimePassAsync(10 * every + TimeSpan.FromSeconds(1));
            var restartedAt = DateTimeOffset.UtcNow;
            restarted = await RedisSilo.StartAsync(redis.Server, identity);
            await using var client = await RedisClient.StartAsync(redis.Server, identity);

            // The restart is noticed by the reminder alone (nothing calls the schedules until they have fired again).
            foreach (var id in new[] { once, all, skip, window })
            {
                await Poll.UntilAsync(() => OccurrencesAsync(client, id), o => o.Count > 0 && o[^1] > restartedAt, Generous, $"{id} to fire after the restart");
            }

            // The catch-up window: the first look after the restart (no earlier than restartedAt) reaches back at most
            // 5 s plus the 1 s grace, so nothing older than that was made, and far fewer than runAll's ten.
            var windowFired = await OccurrencesAsync(client, window);
            var windowBefore = windowFired.Last(o => o <= stoppedAt);
            var windowCaughtUp = windowFired.Where(o => o > windowBefore && o < restartedAt).ToList();
            Assert.All(windowCaughtUp, o => Assert.True(o >= restartedAt - TimeSpan.FromSeconds(6), $"{o:o} was missed by more than the catch-up window"));
            Assert.True(windowCaughtUp.Count <= 3, $"{windowCaughtUp.Count} catch-up jobs within a 5 s window of 2 s occurrences");
            Assert.True(await client.Schedules.DeleteAsync(window));

            // runAll: every occurrence from the first to the latest has its job, across the downtime.
            var snapshot = (await client.Schedules.GetAsync(all))!;
            var allFired = await OccurrencesAsync(client, all);
            Assert.Null(await client.Jobs.GetAsync(deleted));
            AssertContiguous([.. allFired.Append(OccurrenceOf(deleted)).Order()], every, "runAll");
            Assert.True(allFired.Count(o => o > stoppedAt && o < restartedAt) >= 10, $"runAll caught up only {allFired.Count(o => o > stoppedAt && o < restartedAt)} of the missed occurrences");
            Assert.True(snapshot.RecentRuns.Count(r => r is { Kind: "catchUp", JobId: not null }) >= 10, "runAll recorded fewer than ten catch-up jobs");
            Assert.DoesNotContain(snapshot.RecentRuns, r => r.Skipped is not null);

            // runOnce: the missed occurrences are recorded as skipped but for the latest, which gets the one catch-up job.
            snapshot = (await client.Schedules.GetAsync(once))!;
            var onceFired = await OccurrencesAsync(client, once);
            // (An on-time occurrence fired more than a second late on a busy machine is a catch-up too: only the
            // first one after the downtime is the downtime's.)
            var catchUp = snapshot.RecentRuns.Where(r => r is { Kind: "catchUp", JobId: not null }).MinBy(r => r.Occurrence);
            Assert.NotNull(catchUp);
            Assert.Equal(ScheduleId.JobIdFor(once, catchUp.Occurrence), catchUp.JobId);
            var lastBefore = onceFired.Last(o => o <= stoppedAt);
            Assert.Equal([catchUp.Occurrence], onceFired.Where(o => o > lastBefore && o <= catchUp.Occurrence));
            Assert.True(catchUp.Occurrence - lastBefore >= 10 * every, $"the catch-up {catchUp.Occurrence:o} is less than ten occurrences after {lastBefore:o}");
            Assert.True(snapshot.RecentRuns.Count(r => r is { Kind: "catchUp", JobId: null, Skipped: not null }) >= 9, "runOnce did not record the other missed occurrences as skipped");
            AssertContiguous([.. onceFired.Where(o => o >= catchUp.Occurrence)], every, "runOnce after the catch-up");
            Assert.Equal(JobStatus.Succeeded, (await client.WaitForAsync(catchUp.JobId!, s => s.Status.IsTerminal())).Status);

            // skip: no job for the downtime, and on-time occurrences resume.
            snapshot = (await client.Schedules.GetAsync(skip))!;
            var skipFired = await OccurrencesAsync(client, skip);
            Assert.DoesNotContain(snapshot.RecentRuns, r => r is { Kind: "catchUp", JobId: not null });
            Assert.True(snapshot.RecentRuns.Count(r => r is { Kind: "catchUp", Skipped: not null }) >= 10, "skip did not record the missed occurrences");
            var skipBefore = skipFired.Last(o => o <= stoppedAt);
            var skipAfter = skipFired.First(o => o > skipBefore);
            // (An occurrence within the misfire grace of the first look after the restart is on time, not missed.)
            Assert.True(skipAfter >= restartedAt - ScheduleGrain.MisfireGrace, $"skip made a job for {skipAfter:o}, inside the downtime");
            AssertContiguous([.. skipFired.Where(o => o >= skipAfter)], every, "skip after the restart");

            // Never two jobs for one occurrence: each job ran once.
            foreach (var id in new[] { once, all, skip })
            {
                foreach (var occurrence in await OccurrencesAsync(client, id))
                {
                    var jobId = ScheduleId.JobIdFor(id, occurrence);
                    await client.WaitForAsync(jobId, s => s.Status.IsTerminal());
                    Assert.Equal(1, TestJobLog.ExecutionsOf(jobId));
                }

                Assert.True(await client.Schedules.DeleteAsync(id));
            }
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
    public async Task APauseWithItsNoteSurvivesARestartAndWhatFellWhilePausedIsNotCaughtUp()
    {
        var identity = ClusterIdentity.New();
        var silo = await RedisSilo.StartAsync(redis.Server, identity);
        RedisSilo? restarted = null;
        try
        {
            var id = NewId("paused");
            DateTimeOffset lastBeforePause;
            await using (var before = await RedisClient.StartAsync(redis.Server, identity))
            {
                await before.Schedules.UpsertAsync(id, EchoEvery(TimeSpan.FromSeconds(1), "paused"));
                await Poll.UntilAsync(() => OccurrencesAsync(before, id), o => o.Count >= 1, Generous, "a first occurrence");
                var paused = await before.Schedules.PauseAsync(id, "database migration");
                Assert.True(paused.Snapshot!.Paused);
                lastBeforePause = paused.Snapshot.LastOccurrence!.Value;
            }

            await silo.StopAsync();
            restarted = await RedisSilo.StartAsync(redis.Server, identity);
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var afterRestart = (await client.Schedules.GetAsync(id))!;
            Assert.True(afterRestart.Paused);
            Assert.Equal("database migration", afterRestart.Note);

            // Occurrences fall on the restarted silo, with the schedule active there, and a recovery tick would pass.
            await LetTimePassAsync(TimeSpan.FromSeconds(3));
            Assert.DoesNotContain(await OccurrencesAsync(client, id), o => o > lastBeforePause);

            var resumed = await client.Schedules.ResumeAsync(id);
            Assert.False(resumed.Snapshot!.Paused);
            var resumedAt = resumed.Snapshot.UpdatedAt;
            var fired = await Poll.UntilAsync(() => OccurrencesAsync(client, id), o => o.Any(x => x > resumedAt), Generous, "an occurrence after the resume");
            Assert.DoesNotContain(fired, o => o > lastBeforePause && o <= resumedAt);
            Assert.DoesNotContain((await client.Schedules.GetAsync(id))!.RecentRuns, r => r.Occurrence > lastBeforePause && r.Occurrence <= resumedAt);
            Assert.True(await client.Schedules.DeleteAsync(id));
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
    public async Task ACodeScheduleIsAppliedOnceByEverySiloKeepsItsPauseAndStaysDeletedUntilItsCodeChanges()
    {
        var identity = ClusterIdentity.New();
        var id = NewId("code");
        var v1 = EchoEvery(TimeSpan.FromHours(1), "v1");
        var v2 = v1 with { PayloadJson = """{"value":"v2"}""", Every = TimeSpan.FromHours(2) };
        var v3 = v1 with { PayloadJson = """{"value":"v3"}""" };
        var running = new List<RedisSilo>();
        RedisClient? client = null;
        try
        {
            // Two silos start together with the same code: one creates, the other changes nothing.
            await StartTogetherAsync(v1, [ScheduleOutcome.Created, ScheduleOutcome.Unchanged]);
            var created = (await client!.Schedules.GetAsync(id))!;
            Assert.Equal(v1, created.Definition);
            Assert.Equal(created.CreatedAt, created.UpdatedAt);

            var paused = (await client.Schedules.PauseAsync(id, "frozen by ops")).Snapshot!;

            // A restart with the same code touches nothing, the pause least of all.
            await RestartAsync(v1, ScheduleOutcome.Unchanged);
            var afterRestart = (await client.Schedules.GetAsync(id))!;
            Assert.True(afterRestart.Paused);
            Assert.Equal("frozen by ops", afterRestart.Note);
            Assert.Equal(paused.UpdatedAt, afterRestart.UpdatedAt);

            // New code on two silos at once: applied once, still paused.
            await StartTogetherAsync(v2, [ScheduleOutcome.Replaced, ScheduleOutcome.Unchanged]);
            var changed = (await client.Schedules.GetAsync(id))!;
            Assert.Equal(v2, changed.Definition);
            Assert.True(changed.Paused);
            Assert.Equal("frozen by ops", changed.Note);
            Assert.True(changed.UpdatedAt > paused.UpdatedAt);
            await RestartAsync(v2, ScheduleOutcome.Unchanged);
            Assert.Equal(changed.UpdatedAt, (await client.Schedules.GetAsync(id))!.UpdatedAt);

            // Deleted through the client: the same code does not bring it back; a changed definition does.
            Assert.True(await client.Schedules.DeleteAsync(id));
            await RestartAsync(v2, ScheduleOutcome.Unchanged);
            Assert.Null(await client.Schedules.GetAsync(id));
            Assert.DoesNotContain(id, (await client.Schedules.ListAsync(limit: 100)).Items.Select(s => s.Id));

            await RestartAsync(v3, ScheduleOutcome.Created);
            Assert.Equal(v3, (await client.Schedules.GetAsync(id))!.Definition);
            Assert.Contains(id, (await client.Schedules.ListAsync(limit: 100)).Items.Select(s => s.Id));
            Assert.True(await client.Schedules.DeleteAsync(id));
        }
        finally
        {
            await StopAllAsync();
        }

        Task<RedisSilo> StartAsync(ScheduleDefinition definition, LogCapture logs) => RedisSilo.StartAsync(redis.Server, identity, logs: logs,
            services: s => s.AddLogging(b => b.AddFilter(typeof(CodeScheduleStarter).FullName, LogLevel.Information)),
            jobs: all => all.AddTestJobs().AddSchedule(id, definition));

        async Task StartTogetherAsync(ScheduleDefinition definition, ScheduleOutcome[] expected)
        {
            await StopAllAsync();
            LogCapture[] logs = [new(), new()];
            running.AddRange(await Task.WhenAll(logs.Select(l => StartAsync(definition, l))));
            client = await RedisClient.StartAsync(redis.Server, identity);
            var outcomes = new List<ScheduleOutcome>();
            foreach (var log in logs)
            {
                outcomes.Add(await AppliedAsync(log));
            }

            Assert.Equal(expected, outcomes.Order());
        }

        async Task RestartAsync(ScheduleDefinition definition, ScheduleOutcome expected)
        {
            await StopAllAsync();
            var logs = new LogCapture();
            running.Add(await StartAsync(definition, logs));
            client = await RedisClient.StartAsync(redis.Server, identity);
            Assert.Equal(expected, await AppliedAsync(logs));
        }

        // The clients of stopped silos would wait for a gateway-list refresh: each phase gets a fresh one.
        async Task StopAllAsync()
        {
            if (client is not null)
            {
                await client.DisposeAsync();
                client = null;
            }

            foreach (var silo in running)
            {
                await silo.DisposeAsync();
            }

            running.Clear();
        }

        // The start-up upsert runs in the background once the silo is active: its log line says how it went.
        async Task<ScheduleOutcome> AppliedAsync(LogCapture logs)
        {
            var entry = await Poll.UntilAsync(() => Task.FromResult(logs.Entries.FirstOrDefault(e => e.EventId.Id == 810 && Equals(e.Properties.GetValueOrDefault("ScheduleId"), id))),
                e => e is not null, Generous, $"the code schedule {id} to be applied");
            return (ScheduleOutcome)entry!.Properties["Outcome"]!;
        }
    }

    [Fact]
    public async Task OverlapPoliciesHoldAgainstAJobThatOutlastsTheInterval()
    {
        var identity = ClusterIdentity.New();

        // Room for the side-by-side jobs of `allow` beside the others.
        var silo = await RedisSilo.StartAsync(redis.Server, identity, overrides: new Dictionary<string, string?> { ["Jobs:MaxConcurrency"] = "32" });
        var gates = new Dictionary<OverlapPolicy, string>();
        try
        {
            await using var client = await RedisClient.StartAsync(redis.Server, identity);
            var ids = new Dictionary<OverlapPolicy, string>();
            foreach (var policy in new[] { OverlapPolicy.Skip, OverlapPolicy.BufferOne, OverlapPolicy.CancelOther, OverlapPolicy.Allow })
            {
                ids[policy] = NewId(policy.ToString().ToLowerInvariant());
                gates[policy] = $"overlap-{Guid.NewGuid():N}";
                await client.Schedules.UpsertAsync(ids[policy], new ScheduleDefinition
                {
                    Type = "test_gate",
                    PayloadJson = $$"""{"name":"{{gates[policy]}}"}""",
                    Every = TimeSpan.FromSeconds(1),
                    Overlap = policy,
                });
            }

            // skip: while the first job waits at its gate, occurrences are recorded as skipped and make no job.
            var skip = ids[OverlapPolicy.Skip];
            await Poll.UntilAsync(() => client.Schedules.GetAsync(skip), s => s!.RecentRuns.Count(r => r.Skipped?.StartsWith("overlap:", StringComparison.Ordinal) == true) >= 2,
                Generous, "skip to record two skipped occurrences");
            var skipJob = Assert.Single(await OccurrencesAsync(client, skip));

            // bufferOne: one occurrence waits, the ones after it are skipped.
            var buffer = ids[OverlapPolicy.BufferOne];
            var buffering = await Poll.UntilAsync(() => client.Schedules.GetAsync(buffer),
                s => s!.Buffered is not null && s.RecentRuns.Any(r => r.Skipped == "overlap: an occurrence is already buffered"), Generous, "bufferOne to buffer one and skip the next");
            var buffered = buffering!.Buffered!.Value;
            var bufferFirst = Assert.Single(await OccurrencesAsync(client, buffer));

            // cancelOther: each occurrence cancels the job before it.
            var cancel = ids[OverlapPolicy.CancelOther];
            var cancelFired = await Poll.UntilAsync(() => OccurrencesAsync(client, cancel), o => o.Count >= 3, Generous, "cancelOther to make three jobs");
            foreach (var occurrence in cancelFired.Take(2))
            {
                var cancelled = await client.WaitForAsync(ScheduleId.JobIdFor(cancel, occurrence), s => s.Status.IsTerminal());
                Assert.Equal(JobStatus.Cancelled, cancelled.Status);
            }

            // allow: jobs run side by side.
            var allow = ids[OverlapPolicy.Allow];
            await Poll.UntilAsync(() => Task.FromResult(TestJobLog.MaxRunning.GetValueOrDefault(gates[OverlapPolicy.Allow])), n => n >= 2, Generous, "allow to run two jobs at once");
            Assert.True((await OccurrencesAsync(client, allow)).Count >= 2);

            // Still one job each for skip and bufferOne while their first job is held.
            Assert.Equal([skipJob], await OccurrencesAsync(client, skip));
            Assert.Equal([bufferFirst], await OccurrencesAsync(client, buffer));

            var opened = DateTimeOffset.UtcNow;
            TestJobLog.Open(gates[OverlapPolicy.Skip]);
            TestJobLog.Open(gates[OverlapPolicy.BufferOne]);

            // skip fires again once its job is done.
            Assert.Equal(JobStatus.Succeeded, (await client.WaitForAsync(ScheduleId.JobIdFor(skip, skipJob), s => s.Status.IsTerminal())).Status);
            await Poll.UntilAsync(() => OccurrencesAsync(client, skip), o => o.Count >= 2, Generous, "skip to fire again after its job finished");

            // bufferOne: exactly the buffered occurrence runs, then regular ones.
            var bufferedJob = await client.WaitForAsync(ScheduleId.JobIdFor(buffer, buffered), s => s.Status.IsTerminal(), Generous);
            Assert.Equal(JobStatus.Succeeded, bufferedJob.Status);
            Assert.Equal([bufferFirst, buffered], (await OccurrencesAsync(client, buffer)).Where(o => o < opened));
            Assert.Contains((await client.Schedules.GetAsync(buffer))!.RecentRuns, r => r.Kind == "buffered" && r.JobId == bufferedJob.Id);

            foreach (var id in ids.Values)
            {
                Assert.True(await client.Schedules.DeleteAsync(id));
            }
        }
        finally
        {
            foreach (var gate in gates.Values)
            {
                TestJobLog.Open(gate);
            }

            await silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task DaylightSavingChangesInParisFireAsDocumentedUnderAFakeClock()
    {
        static DateTimeOffset Utc(int month, int day, int hour, int minute) => new(2026, month, day, hour, minute, 0, TimeSpan.Zero);
        static ScheduleDefinition Paris(string cron) => new()
        {
            Type = "test_echo",
            PayloadJson = """{"value":"dst"}""",
            Cron = cron,
            TimeZone = "Europe/Paris",
            Overlap = OverlapPolicy.Allow,
            Misfire = MisfirePolicy.RunAll,
            CatchUpWindow = TimeSpan.FromHours(3),
        };

        // The schedules' and the reminders' clock: one fake clock moved by the test (the jobs run on it too).
        var clock = new FakeTimeProvider(Utc(3, 29, 0, 20));
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, services: services =>
        {
            services.AddKeyedSingleton<TimeProvider>(JobClock.Key, clock);
            services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, clock);
        });
        await using var client = await RedisClient.StartAsync(redis.Server, identity);

        async Task<List<DateTimeOffset>> FiredAfterAsync(string id, int atLeast) => await Poll.UntilAsync(async () =>
        {
            // Each look moves the clock a little, so the schedules' reminder ticks come due.
            clock.Advance(TimeSpan.FromSeconds(1));
            return await OccurrencesAsync(client, id);
        }, o => o.Count >= atLeast, Generous, $"{id} to fire");

        // Spring, 2026-03-29: 02:00 local jumps to 03:00 (01:00 UTC). 02:30 does not exist: it fires once, at 03:00.
        var spring = NewId("spring");
        var created = await client.Schedules.UpsertAsync(spring, Paris("30 2 * * *"));
        Assert.Equal(Utc(3, 29, 1, 0), created.Snapshot!.NextRuns[0]);
        clock.Advance(TimeSpan.FromMinutes(50));
        Assert.Equal([Utc(3, 29, 1, 0)], await FiredAfterAsync(spring, 1));
        Assert.True(await client.Schedules.DeleteAsync(spring));

        // Autumn, 2026-10-25: 03:00 local goes back to 02:00 (01:00 UTC); 02:00-03:00 happens twice. A fixed time
        // fires once (its first instance); an interval-like cron fires in both hours.
        clock.SetUtcNow(Utc(10, 25, 0, 20));
        var daily = NewId("autumn-daily");
        var halfHourly = NewId("autumn-half");
        await client.Schedules.UpsertAsync(daily, Paris("30 2 * * *"));
        await client.Schedules.UpsertAsync(halfHourly, Paris("*/30 2 * * *"));
        clock.Advance(TimeSpan.FromMinutes(85));
        Assert.Equal([Utc(10, 25, 0, 30), Utc(10, 25, 1, 0), Utc(10, 25, 1, 30)], await FiredAfterAsync(halfHourly, 3));
        Assert.Equal([Utc(10, 25, 0, 30)], await FiredAfterAsync(daily, 1));
    }
}
