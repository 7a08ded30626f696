using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;
using OrleansTasks.Jobs;
using OrleansTasks.Schedules;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// A silo's own Prometheus endpoint (<c>Metrics:Port</c>), scraped over loopback and parsed: the engine's families
/// (missed schedule occurrences among them, made under a fake clock), Orleans' and the runtime's.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SiloMetricsTests(RedisFixture redis)
{
    [Fact]
    public async Task ASiloWithAMetricsPortServesTheEngineOrleansAndRuntimeFamiliesIncludingMissedOccurrences()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var port = RedisServer.FreePort();
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity,
            overrides: new Dictionary<string, string?> { ["Metrics:Port"] = port.ToString(CultureInfo.InvariantCulture) },
            services: services =>
            {
                services.AddKeyedSingleton<TimeProvider>(JobClock.Key, clock);
                services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, clock);
            });
        await using var client = await RedisClient.StartAsync(redis.Server, identity);

        // Every minute, then ten minutes in one jump with nobody firing: runOnce runs the latest, skips the rest.
        var scheduleId = $"metrics-{Guid.NewGuid():N}"[..24];
        await client.Schedules.UpsertAsync(scheduleId, new ScheduleDefinition
        {
            Type = "test_echo",
            PayloadJson = """{"value":"missed"}""",
            Every = TimeSpan.FromMinutes(1),
            Misfire = MisfirePolicy.RunOnce,
        });
        clock.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () =>
        {
            // Each look moves the clock a little, so the schedule's reminder tick comes due.
            clock.Advance(TimeSpan.FromSeconds(1));
            return await client.Schedules.GetAsync(scheduleId);
        }, s => s is { RecentRuns.Count: > 0 } && s.RecentRuns.Any(r => r.JobId is not null), TimeSpan.FromSeconds(60), "the catch-up run");

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var metrics = await Poll.UntilAsync(async () => PrometheusText.Parse(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative))),
            m => m.Find("messaging_client_sent_messages_total", ("messaging_destination_name", "test_echo")).Any(),
            TimeSpan.FromSeconds(30), "the catch-up job counted");

        Assert.Equal("counter", metrics.Families["orleanstasks_schedule_missed_occurrences_total"]);
        var run = metrics.Find("orleanstasks_schedule_missed_occurrences_total", ("messaging_destination_name", "test_echo"), ("orleanstasks_schedule_misfire_action", "run")).Single();
        var skipped = metrics.Find("orleanstasks_schedule_missed_occurrences_total", ("messaging_destination_name", "test_echo"), ("orleanstasks_schedule_misfire_action", "skipped")).Single();
        Assert.Equal(1, run.Value);
        Assert.InRange(skipped.Value, 8, 11);

        Assert.Equal("histogram", metrics.Families["messaging_process_duration_seconds"]);
        Assert.Equal("histogram", metrics.Families["orleanstasks_job_queue_wait_seconds"]);
        Assert.Equal("histogram", metrics.Families["orleanstasks_job_schedule_lag_seconds"]);
        Assert.Equal("gauge", metrics.Families["orleanstasks_worker_slots"]);
        Assert.Contains(metrics.Find("orleanstasks_worker_slots", ("orleanstasks_worker_slot_state", "total")), s => s.Value == TestSiloSettings.MaxConcurrency);
        Assert.Contains(metrics.Families.Keys, name => name.StartsWith("orleans_", StringComparison.Ordinal));
        Assert.Contains(metrics.Families.Keys, name => name.StartsWith("dotnet_", StringComparison.Ordinal));
    }
}
