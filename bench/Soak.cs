using System.Diagnostics;
using System.Globalization;
using System.Text;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Bench;

/// <summary>One point of the soak curve. <paramref name="Seconds"/> counts from the first enqueue.</summary>
public sealed record SoakSample(double Seconds, long UsedMemory, long Enqueued, long Finished, long Stored, long Failed);

/// <summary>The soak's figures (the JSON line), its verdict and the report printed with it.</summary>
public sealed record SoakResult(Dictionary<string, double> Figures, bool Passed, string Report);

/// <summary>
/// Retention keeps Redis bounded (issue 9): jobs at a steady, paced rate with a short retention; Redis
/// <c>used_memory</c> sampled from the start until at least one retention period after the last job finished.
/// PASS when, after the first retention period, no sample is more than 10 % above the first sample taken after it,
/// and every job succeeded. OrleansTasks only: Hangfire is not part of this workload.
/// </summary>
public sealed class Soak(IServer redis, string endpoint, BenchSettings settings)
{
    /// <summary>The most enqueues awaiting their answer at once; if the system answers slower, the rate falls behind (and shows).</summary>
    private const int MaxInFlight = 256;

    private const double Tolerance = 0.10;

    public async Task<SoakResult> RunAsync()
    {
        var jobs = settings.SoakJobs;
        var rate = settings.SoakRate;
        var retention = TimeSpan.FromSeconds(settings.SoakRetentionSeconds);
        var sweep = TimeSpan.FromSeconds(settings.SoakSweepSeconds);
        var every = TimeSpan.FromSeconds(settings.SoakSampleSeconds);
        var config = await redis.ConfigGetAsync("*");
        string Config(string name) => config.FirstOrDefault(c => c.Key == name).Value ?? "?";
        var redisConfig = $"the bench's own redis-server {RedisInfo.Version(redis)}: maxmemory {Config("maxmemory")} (0 = no limit, so the silo's high watermark is off), " +
            $"maxmemory-policy {Config("maxmemory-policy")}, appendonly {Config("appendonly")}, save '{Config("save")}'";

        await using var sut = await OrleansTasksSystem.StartAsync(endpoint, new Dictionary<string, string?>
        {
            ["Jobs:Retention:Succeeded"] = retention.ToString("c", CultureInfo.InvariantCulture),
            ["Jobs:Retention:SweepInterval"] = sweep.ToString("c", CultureInfo.InvariantCulture),
        });
        var client = sut.Services.GetRequiredService<JobClient>();

        // Warm, as every other workload is; the warm-up jobs are stored until their retention like the rest.
        Probe.Reset();
        await Workloads.Producers(settings.WarmUp, 8, _ => sut.EnqueueNoopAsync(0));
        await Workloads.WaitDoneAsync(settings.WarmUp);
        Probe.Reset();
        Console.Error.WriteLine($"[bench] soak: OrleansTasks only (Hangfire is not part of this workload); {jobs} jobs at {rate}/s, " +
            $"Jobs:Retention:Succeeded {retention.TotalSeconds} s, sweep every {sweep.TotalSeconds} s, used_memory every {every.TotalSeconds} s; {redisConfig}");

        long enqueued = 0, enqueueErrors = 0;
        string? firstError = null;
        var samples = new List<SoakSample>();
        var start = Stopwatch.GetTimestamp();
        using var stopSampling = new CancellationTokenSource();

        async Task<SoakSample> SampleAsync()
        {
            var counts = await client.CountsAsync();
            var sample = new SoakSample(Stopwatch.GetElapsedTime(start).TotalSeconds, await RedisInfo.UsedMemoryAsync(redis), Interlocked.Read(ref enqueued), Probe.Done,
                counts.Scheduled + counts.Queued + counts.Running + counts.Retrying + counts.Succeeded + counts.Failed + counts.Cancelled, counts.Failed + counts.Cancelled);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[bench] soak t={sample.Seconds,6:0.0}s used_memory={sample.UsedMemory / 1048576.0,7:0.00} MB enqueued={sample.Enqueued} finished={sample.Finished} stored={sample.Stored}"));
            return sample;
        }

        var sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(every);
            samples.Add(await SampleAsync());
            while (await timer.WaitForNextTickAsync(CancellationToken.None) && !stopSampling.IsCancellationRequested)
            {
                samples.Add(await SampleAsync());
            }
        });

        // Paced: job i is due at i / rate seconds, so the load is steady, not bursts.
        using var slots = new SemaphoreSlim(MaxInFlight);
        for (var i = 0; i < jobs; i++)
        {
            var wait = TimeSpan.FromSeconds(i / rate) - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }

            await slots.WaitAsync();
            _ = Task.Run(async () =>
            {
                try
                {
                    await sut.EnqueueNoopAsync(Stopwatch.GetTimestamp());
                    Interlocked.Increment(ref enqueued);
                }
                catch (Exception ex)
                {
                    Interlocked.Increment(ref enqueueErrors);
                    Interlocked.CompareExchange(ref firstError, ex.Message, null);
                }
                finally
                {
                    slots.Release();
                }
            });
        }

        for (var i = 0; i < MaxInFlight; i++)
        {
            await slots.WaitAsync();
        }

        var lastEnqueued = Stopwatch.GetElapsedTime(start);
        var finishDeadline = TimeSpan.FromMinutes(5) + lastEnqueued;
        while (Probe.Done < enqueued && Stopwatch.GetElapsedTime(start) < finishDeadline)
        {
            await Task.Delay(50);
        }

        var lastFinished = Stopwatch.GetElapsedTime(start);

        // At least one retention period after the last job finished, plus time for the sweeper and a last sample.
        var until = lastFinished + retention + Max(2 * sweep + every, TimeSpan.FromSeconds(3));
        while (Stopwatch.GetElapsedTime(start) < until)
        {
            await Task.Delay(100);
        }

        await stopSampling.CancelAsync();
        await sampler;
        var end = await SampleAsync();
        samples.Add(end);
        var endCounts = await client.CountsAsync();

        // The criterion: from the first sample at or after one retention period.
        var baseline = samples.FirstOrDefault(s => s.Seconds >= retention.TotalSeconds);
        var after = samples.Where(s => baseline is not null && s.Seconds >= baseline.Seconds).ToList();
        var peakAfter = after.Count == 0 ? null : after.MaxBy(s => s.UsedMemory);
        var memoryFlat = baseline is not null && peakAfter!.UsedMemory <= baseline.UsedMemory * (1 + Tolerance);
        var pending = endCounts.Scheduled + endCounts.Queued + endCounts.Running + endCounts.Retrying;
        var allSucceeded = enqueued == jobs && enqueueErrors == 0 && Probe.Done >= jobs && samples.All(s => s.Failed == 0) && pending == 0;
        var removed = end.Stored == 0;
        var passed = memoryFlat && allSucceeded && removed;

        var pickups = Probe.PickupMs.Order().ToArray();
        double Mb(long bytes) => Math.Round(bytes / 1048576.0, 3);
        var figures = new Dictionary<string, double>
        {
            ["targetRatePerSecond"] = rate,
            ["achievedRatePerSecond"] = enqueued / lastEnqueued.TotalSeconds,
            ["retentionSeconds"] = retention.TotalSeconds,
            ["samples"] = samples.Count,
            ["startUsedMemoryMb"] = Mb(samples[0].UsedMemory),
            ["peakUsedMemoryMb"] = Mb(samples.Max(s => s.UsedMemory)),
            ["baselineUsedMemoryMb"] = baseline is null ? double.NaN : Mb(baseline.UsedMemory),
            ["maxAfterRetentionMb"] = peakAfter is null ? double.NaN : Mb(peakAfter.UsedMemory),
            ["maxOverBaselinePercent"] = baseline is null ? double.NaN : Math.Round(100.0 * (peakAfter!.UsedMemory - baseline.UsedMemory) / baseline.UsedMemory, 2),
            ["endUsedMemoryMb"] = Mb(end.UsedMemory),
            ["maxStoredJobs"] = samples.Max(s => s.Stored),
            ["storedAtEnd"] = end.Stored,
            ["succeeded"] = Probe.Done,
            ["failedOrCancelled"] = samples.Max(s => s.Failed),
            ["enqueueErrors"] = enqueueErrors,
            ["lastFinishedSeconds"] = lastFinished.TotalSeconds,
            ["pickupP50Ms"] = Workloads.Percentile(pickups, 0.50),
            ["pickupP99Ms"] = Workloads.Percentile(pickups, 0.99),
            ["passed"] = passed ? 1 : 0,
        };

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"## soak: OrleansTasks only (Hangfire is not part of this workload)");
        report.AppendLine(CultureInfo.InvariantCulture, $"{jobs} jobs at {rate}/s (achieved {figures["achievedRatePerSecond"]:0} /s), Jobs:Retention:Succeeded {retention.TotalSeconds} s, " +
            $"Jobs:Retention:SweepInterval {sweep.TotalSeconds} s, after {settings.WarmUp} warm-up jobs (in 'stored' until their retention ends); Redis: {redisConfig}");
        report.AppendLine();
        report.AppendLine("| t (s) | used_memory (MB) | enqueued | finished | stored |");
        report.AppendLine("|---:|---:|---:|---:|---:|");
        foreach (var s in samples)
        {
            var mark = ReferenceEquals(s, baseline) ? " ← first sample after one retention period" : "";
            report.AppendLine(CultureInfo.InvariantCulture, $"| {s.Seconds:0.0} | {s.UsedMemory / 1048576.0:0.00} | {s.Enqueued} | {s.Finished} | {s.Stored} |{mark}");
        }

        report.AppendLine();
        report.AppendLine(baseline is null
            ? "memory: FAIL, no sample after the first retention period"
            : string.Create(CultureInfo.InvariantCulture, $"memory: after the first retention period ({retention.TotalSeconds} s) the highest sample is {Mb(peakAfter!.UsedMemory)} MB at t={peakAfter.Seconds:0.0} s, " +
                $"{figures["maxOverBaselinePercent"]:+0.0;-0.0} % against the first sample after it ({Mb(baseline.UsedMemory)} MB at t={baseline.Seconds:0.0} s); at most +{Tolerance:P0} allowed: {(memoryFlat ? "PASS" : "FAIL")}"));
        report.AppendLine(CultureInfo.InvariantCulture, $"jobs: {enqueued} of {jobs} enqueued ({enqueueErrors} enqueue errors{(firstError is null ? "" : $", first: {firstError}")}), {Probe.Done} handler runs finished, " +
            $"{samples.Max(s => s.Failed)} failed or cancelled, {pending} not finished at the end: {(allSucceeded ? "PASS" : "FAIL")}");
        report.AppendLine(CultureInfo.InvariantCulture, $"retention: {end.Stored} jobs still stored at t={end.Seconds:0.0} s (the last finished at t={lastFinished.TotalSeconds:0.0} s): {(removed ? "PASS" : "FAIL")}");
        report.AppendLine(passed ? "SOAK PASS" : "SOAK FAIL");
        return new SoakResult(figures, passed, report.ToString());
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

/// <summary>Redis figures the bench reads.</summary>
public static class RedisInfo
{
    public static async Task<long> UsedMemoryAsync(IServer server) =>
        long.Parse((await server.InfoAsync("memory")).SelectMany(g => g).First(p => p.Key == "used_memory").Value, CultureInfo.InvariantCulture);

    public static string Version(IServer server) => server.Version.ToString();
}
