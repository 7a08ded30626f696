using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using StackExchange.Redis;

namespace OrleansTasks.Bench;

/// <summary>One measurement: named figures, as printed in the JSON line.</summary>
public sealed record Measurement(string Workload, string System, int Round, int N, IReadOnlyDictionary<string, double> Figures);

public sealed class Workloads(IServer redis, BenchSettings settings)
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Jobs in the drain workload's batch watched through MONITOR (at most N).</summary>
    private const int AccountingJobs = 2000;

    /// <summary>A warm-up batch that compiles fewer methods than this counts as steady.</summary>
    private const int SettledMethods = 25;

    /// <summary>Quiet batches in a row that count as settled.</summary>
    private const int QuietBatches = 4;

    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(180);

    /// <summary>
    /// Runs warm-up batches through the path about to be measured until the JIT stops compiling. After a fixed
    /// 500-job warm-up the tiered JIT still promoted some 10,000 methods during a 20,000-job drain and took more CPU
    /// than the jobs themselves, so a run measured start-up more than steady work, and a side with more code looked
    /// slower for it. Quick runs (the test suite's --quick) check that workloads run and measure nothing: no settling.
    /// </summary>
    private async Task SettleAsync(string workload, Func<int, Task> batch)
    {
        if (settings.N < 1_000)
        {
            return;
        }

        // Tier-up comes in bursts, with lulls between them: only several quiet batches in a row count as settled.
        var watch = Stopwatch.StartNew();
        var batches = 0;
        var quiet = 0;
        while (quiet < QuietBatches && watch.Elapsed < SettleLimit)
        {
            var before = System.Runtime.JitInfo.GetCompiledMethodCount();
            Probe.Reset();
            await batch(settings.WarmUp);
            await WaitDoneAsync(settings.WarmUp);
            quiet = System.Runtime.JitInfo.GetCompiledMethodCount() - before <= SettledMethods ? quiet + 1 : 0;
            batches++;
        }

        Probe.Reset();
        Console.Error.WriteLine($"[bench] {workload}: {(quiet < QuietBatches ? "NOT settled" : "settled")} after {batches} warm-up batches of {settings.WarmUp} ({watch.Elapsed.TotalSeconds:0} s)");
    }

    private static Task NoopBatchAsync(ISystemUnderTest sut, int count) => Producers(count, 8, _ => sut.EnqueueNoopAsync(0));

    public async Task<Dictionary<string, double>> EnqueueAsync(ISystemUnderTest sut)
    {
        await SettleAsync("enqueue", count => NoopBatchAsync(sut, count));
        var n = settings.N;
        var watch = Stopwatch.StartNew();
        await Producers(n, 8, _ => sut.EnqueueNoopAsync(0));
        var seconds = watch.Elapsed.TotalSeconds;
        await WaitDoneAsync(n);
        return new() { ["enqueuesPerSecond"] = n / seconds };
    }

    public async Task<Dictionary<string, double>> HttpAsync(ISystemUnderTest sut)
    {
        var n = settings.N;
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 32 };
        using var http = new HttpClient(handler) { BaseAddress = sut.BaseAddress };
        var failures = 0;
        Task Post(int count) => Producers(count, 32, async _ =>
        {
            using var content = new StringContent(sut.HttpBody, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
            using var response = await http.PostAsync(new Uri("/jobs", UriKind.Relative), content);
            if ((int)response.StatusCode != 202)
            {
                Interlocked.Increment(ref failures);
            }
        });
        await SettleAsync("http", Post);
        var watch = Stopwatch.StartNew();
        await Post(n);
        var seconds = watch.Elapsed.TotalSeconds;
        if (failures > 0)
        {
            throw new InvalidOperationException($"{sut.Name}: {failures} HTTP enqueues were not answered 202.");
        }

        await WaitDoneAsync(n);
        return new() { ["requestsPerSecond"] = n / seconds };
    }

    public async Task<Dictionary<string, double>> DrainAsync(ISystemUnderTest sut)
    {
        var n = settings.N;
        await SettleAsync("drain", count => NoopBatchAsync(sut, count));
        var commandsBefore = await RedisCommandsAsync(redis);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
        var methodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        var watch = Stopwatch.StartNew();
        await Producers(n, 8, _ => sut.EnqueueNoopAsync(0));
        await WaitDoneAsync(n);
        var seconds = watch.Elapsed.TotalSeconds;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;

        // Bytes allocated by this process (the in-process silo and the bench's clients) per job: a steadier sign of
        // per-job work than CPU time on a shared machine.
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;

        // The JIT's share of that CPU (tier-up of what the warm-up did not yet promote): a cost of start-up, not of
        // steady running, reported so an A/B can tell the two apart.
        var jit = System.Runtime.JitInfo.GetCompilationTime() - jitBefore;
        var methods = System.Runtime.JitInfo.GetCompiledMethodCount() - methodsBefore;
        var commandsAfter = await RedisCommandsAsync(redis);
        var commands = commandsAfter.Values.Sum() - commandsBefore.Values.Sum();
        Console.Error.WriteLine($"[bench] drain {sut.Name}: Redis commands per job (INFO commandstats: sent and run inside scripts): " + RedisTally.Describe(
            commandsAfter.ToDictionary(c => c.Key, c => c.Value - commandsBefore.GetValueOrDefault(c.Key)), n));

        // Round trips apart from commands run inside scripts: a further batch, watched through MONITOR (which slows
        // Redis, so never the timed one), once the timed batch's bookkeeping is over.
        await sut.WaitIdleAsync();
        var batch = Math.Min(n, AccountingJobs);
        Probe.Reset();
        await using var accounting = await RedisAccounting.StartAsync(redis.EndPoint);
        await Producers(batch, 8, _ => sut.EnqueueNoopAsync(0));
        await WaitDoneAsync(batch);
        await sut.WaitIdleAsync();
        var tally = await accounting.StopAsync();
        Console.Error.WriteLine($"[bench] drain {sut.Name}: {batch} jobs under MONITOR, per job: sent {tally.SentTotal / (double)batch:0.##} ({RedisTally.Describe(tally.Sent, batch)}); " +
            $"inside scripts {tally.InScriptsTotal / (double)batch:0.##} ({RedisTally.Describe(tally.InScripts, batch)}); " +
            $"not counted: {tally.Bench} from the bench's own connections, {tally.NotMonitored} counted by INFO commandstats but not shown by MONITOR");
        return new()
        {
            ["jobsPerSecond"] = n / seconds,
            ["cpuMsPerJob"] = cpu.TotalMilliseconds / n,
            ["allocatedKBPerJob"] = allocated / 1024.0 / n,
            ["jitMsPerJob"] = jit.TotalMilliseconds / n,
            ["jitMethods"] = methods,
            ["redisCommandsPerJob"] = (double)commands / n,
            ["roundTripsPerJob"] = tally.SentTotal / (double)batch,
            ["scriptCommandsPerJob"] = tally.InScriptsTotal / (double)batch,
        };
    }

    public async Task<Dictionary<string, double>> LatencyAsync(ISystemUnderTest sut)
    {
        // A steady 200 jobs/s into an idle system.
        var count = (int)(200 * settings.LatencySeconds);
        var pending = new List<Task>(count);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var due = TimeSpan.FromMilliseconds(i * 5.0);
            var wait = due - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            pending.Add(Task.Run(() => sut.EnqueueNoopAsync(Stopwatch.GetTimestamp())));
        }

        await Task.WhenAll(pending);
        await WaitDoneAsync(count);
        var sorted = Probe.PickupMs.Order().ToArray();
        return new()
        {
            ["pickupP50Ms"] = Percentile(sorted, 0.50),
            ["pickupP95Ms"] = Percentile(sorted, 0.95),
            ["pickupP99Ms"] = Percentile(sorted, 0.99),
        };
    }

    public async Task<Dictionary<string, double>> RetryAsync(ISystemUnderTest sut)
    {
        var count = settings.RetryJobs;
        var watch = Stopwatch.StartNew();
        await Producers(count, 8, i => sut.EnqueueFailOnceAsync($"retry-{Guid.NewGuid():N}"));
        await WaitDoneAsync(count);
        var sorted = Probe.RetryErrorMs.Order().ToArray();
        return new()
        {
            ["retryErrorP50Ms"] = Percentile(sorted, 0.50),
            ["retryErrorP99Ms"] = Percentile(sorted, 0.99),
            ["allSucceededSeconds"] = watch.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Runs <paramref name="count"/> calls over <paramref name="producers"/> concurrent loops on the thread pool.</summary>
    public static Task Producers(int count, int producers, Func<int, Task> call)
    {
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, producers).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                await call(i);
            }
        })));
    }

    public static async Task WaitDoneAsync(long expected)
    {
        var watch = Stopwatch.StartNew();
        while (Probe.Done < expected)
        {
            if (watch.Elapsed > DrainTimeout)
            {
                throw new TimeoutException($"only {Probe.Done} of {expected} jobs finished within {DrainTimeout}.");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Calls so far per Redis command (<c>INFO commandstats</c>: commands run inside scripts included).</summary>
    public static async Task<Dictionary<string, long>> RedisCommandsAsync(IServer redis)
    {
        var stats = await redis.InfoAsync("commandstats");
        return stats.SelectMany(g => g)
            .Where(p => p.Key.StartsWith("cmdstat_", StringComparison.Ordinal))
            .ToDictionary(
                p => p.Key["cmdstat_".Length..],
                p => long.Parse(p.Value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture));
    }

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
