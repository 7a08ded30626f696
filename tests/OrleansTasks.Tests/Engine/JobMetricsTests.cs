using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OrleansTasks.Jobs;
using OrleansTasks.Observability;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>
/// The engine's instruments after a known workload, read with a <see cref="MeterListener"/> on the test silo's own
/// meter (its <see cref="IMeterFactory"/> scope, so no other silo of the test process counts).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class JobMetricsTests(ClusterFixture fixture)
{
    [Fact]
    public async Task ThreeJobsOneFailingOnceAreCountedTimedAndTaggedByTypeAndOutcome()
    {
        var silo = fixture.Cluster.Silos[0].ServiceProvider;
        var meterScope = silo.GetService<IMeterFactory>();
        var recorded = new ConcurrentQueue<Recorded>();
        var instruments = new ConcurrentDictionary<string, Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == JobMetrics.MeterName && instrument.Meter.Scope == meterScope)
                {
                    instruments[instrument.Name] = instrument;
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) => recorded.Enqueue(new(i.Name, value, Tags(tags))));
        listener.SetMeasurementEventCallback<int>((i, value, tags, _) => recorded.Enqueue(new(i.Name, value, Tags(tags))));
        listener.SetMeasurementEventCallback<double>((i, value, tags, _) => recorded.Enqueue(new(i.Name, value, Tags(tags))));
        listener.Start();

        var echo1 = await fixture.Jobs.EnqueueAsync(new Echo("metrics-1"), id: $"metrics-{Guid.NewGuid():N}");
        var echo2 = await fixture.Jobs.EnqueueAsync(new Echo("metrics-2"), id: $"metrics-{Guid.NewGuid():N}");
        var flaky = await fixture.Jobs.EnqueueAsync(new Flaky(FailTimes: 1), id: $"metrics-{Guid.NewGuid():N}");
        foreach (var job in new[] { echo1, echo2, flaky })
        {
            Assert.Equal(JobStatus.Succeeded, (await fixture.WaitForTerminalAsync(job.Snapshot!.Id)).Status);
        }

        // The attempt counter is recorded as the attempt ends, before its outcome is stored: by now all four are in.
        bool Ours(Recorded r) => r.Tags.GetValueOrDefault(JobMetrics.DestinationTag) is "test_echo" or "test_flaky";
        await Poll.UntilAsync(() => Task.FromResult(recorded.Count(r => r.Name == "orleanstasks.job.attempts" && Ours(r))), n => n >= 4,
            TimeSpan.FromSeconds(10), "four attempts recorded");
        listener.RecordObservableInstruments();
        var all = recorded.ToArray();

        // Names and units.
        Assert.Equal("{message}", instruments["messaging.client.sent.messages"].Unit);
        Assert.Equal("s", instruments["messaging.process.duration"].Unit);
        Assert.Equal("s", instruments["orleanstasks.job.queue_wait"].Unit);
        Assert.Equal("s", instruments["orleanstasks.job.schedule_lag"].Unit);
        Assert.Equal("{attempt}", instruments["orleanstasks.job.attempts"].Unit);
        Assert.Equal("{job}", instruments["orleanstasks.jobs.running"].Unit);
        Assert.Equal("{job}", instruments["orleanstasks.jobs.queued"].Unit);
        Assert.Equal("{slot}", instruments["orleanstasks.worker.slots"].Unit);
        Assert.Equal("{occurrence}", instruments["orleanstasks.schedule.missed_occurrences"].Unit);

        // Enqueues: one per created job, by type, in the messaging conventions' terms.
        var sent = all.Where(r => r.Name == "messaging.client.sent.messages" && Ours(r)).ToArray();
        Assert.Equal(2, sent.Where(r => r.Tags[JobMetrics.DestinationTag] is "test_echo").Sum(r => r.Value));
        Assert.Equal(1, sent.Where(r => r.Tags[JobMetrics.DestinationTag] is "test_flaky").Sum(r => r.Value));
        Assert.All(sent, r =>
        {
            Assert.Equal("orleanstasks", r.Tags[JobMetrics.SystemTag]);
            Assert.Equal("enqueue", r.Tags[JobMetrics.OperationTag]);
        });

        // Attempts by outcome: the flaky job failed once, then succeeded.
        var attempts = all.Where(r => r.Name == "orleanstasks.job.attempts" && Ours(r))
            .GroupBy(r => (Type: r.Tags[JobMetrics.DestinationTag], Outcome: r.Tags[JobMetrics.OutcomeTag]))
            .ToDictionary(g => g.Key, g => g.Sum(r => r.Value));
        Assert.Equal(new Dictionary<(object?, object?), double>
        {
            [("test_echo", "succeeded")] = 2,
            [("test_flaky", "failed")] = 1,
            [("test_flaky", "succeeded")] = 1,
        }, attempts.ToDictionary(kv => ((object?)kv.Key.Type, (object?)kv.Key.Outcome), kv => kv.Value));

        // Durations: one per attempt; error.type only on the failure, naming the exception's type.
        var durations = all.Where(r => r.Name == "messaging.process.duration" && Ours(r)).ToArray();
        Assert.Equal(4, durations.Length);
        Assert.All(durations, r => Assert.InRange(r.Value, 0, 30));
        Assert.Equal(["InvalidDataException"], durations.Where(r => r.Tags.ContainsKey(JobMetrics.ErrorTypeTag)).Select(r => r.Tags[JobMetrics.ErrorTypeTag]));
        Assert.Equal(3, durations.Count(r => !r.Tags.ContainsKey(JobMetrics.ErrorTypeTag)));

        // Waits: one of each per attempt, never negative.
        Assert.Equal(4, all.Count(r => r.Name == "orleanstasks.job.queue_wait" && Ours(r) && r.Value is >= 0 and < 30));
        Assert.Equal(4, all.Count(r => r.Name == "orleanstasks.job.schedule_lag" && Ours(r) && r.Value is >= 0 and < 30));

        // The pool's gauges: everything has finished, and the total is the configured concurrency.
        Assert.Contains(all, r => r.Name == "orleanstasks.worker.slots" && r.Tags[JobMetrics.SlotStateTag] is "total" && r.Value == TestSiloSettings.MaxConcurrency);
        Assert.Contains(all, r => r.Name == "orleanstasks.worker.slots" && r.Tags[JobMetrics.SlotStateTag] is "used" && r.Value >= 0);
        Assert.Contains(all, r => r.Name == "orleanstasks.jobs.running" && r.Value >= 0);
        Assert.Contains(all, r => r.Name == "orleanstasks.jobs.queued" && r.Value == 0);
    }

    [Fact]
    public async Task AnAttemptThatTimesOutIsTaggedTimeoutAndItsOutcomeTimedOut()
    {
        var meterScope = fixture.Cluster.Silos[0].ServiceProvider.GetService<IMeterFactory>();
        var recorded = new ConcurrentQueue<Recorded>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == JobMetrics.MeterName && instrument.Meter.Scope == meterScope)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) => recorded.Enqueue(new(i.Name, value, Tags(tags))));
        listener.SetMeasurementEventCallback<double>((i, value, tags, _) => recorded.Enqueue(new(i.Name, value, Tags(tags))));
        listener.Start();

        var id = $"metrics-timeout-{Guid.NewGuid():N}";
        await fixture.Jobs.EnqueueAsync(new Slow(Milliseconds: 5_000), new JobOptions { Timeout = TimeSpan.FromMilliseconds(200), MaxRetries = 0 }, id);
        Assert.Equal(JobStatus.Failed, (await fixture.WaitForTerminalAsync(id)).Status);

        var duration = await Poll.UntilAsync(
            () => Task.FromResult(recorded.FirstOrDefault(r => r.Name == "messaging.process.duration" && r.Tags.GetValueOrDefault(JobMetrics.DestinationTag) is "test_slow")),
            r => r is not null, TimeSpan.FromSeconds(10), "the slow job's duration");
        Assert.Equal("timeout", duration!.Tags[JobMetrics.ErrorTypeTag]);
        Assert.Contains(recorded, r => r.Name == "orleanstasks.job.attempts" && r.Tags.GetValueOrDefault(JobMetrics.DestinationTag) is "test_slow"
            && r.Tags[JobMetrics.OutcomeTag] is "timed_out");
    }

    private static Dictionary<string, object?> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            result[key] = value;
        }

        return result;
    }

    private sealed record Recorded(string Name, double Value, Dictionary<string, object?> Tags);
}
