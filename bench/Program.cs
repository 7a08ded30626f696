using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace OrleansTasks.Bench;

/// <summary>Command-line settings; see <see cref="Usage"/>.</summary>
public sealed record BenchSettings
{
    public int N { get; init; } = 20_000;
    public int Rounds { get; init; } = 3;
    public double LatencySeconds { get; init; } = 10;
    public int RetryJobs { get; init; } = 1_000;
    public int MemoryJobs { get; init; } = 100_000;
    public int WarmUp { get; init; } = 500;
    public string[] Workloads { get; init; } = ["enqueue", "http", "drain", "latency", "retry", "memory"];
    public string[] Systems { get; init; } = ["OrleansTasks", "Hangfire"];

    public int SoakJobs { get; init; } = 200_000;
    public double SoakRate { get; init; } = 1_000;
    public double SoakRetentionSeconds { get; init; } = 60;
    public double SoakSweepSeconds { get; init; } = 1;
    public double SoakSampleSeconds { get; init; } = 5;

    public int ScheduleCount { get; init; } = 10;
    public double ScheduleSeconds { get; init; } = 30;

    /// <summary>Open streams of the sse-idle workload, and how long their CPU is measured.</summary>
    public int SseStreams { get; init; } = 1000;

    /// <summary>Scheduled jobs the bulk workload cancels with one operation.</summary>
    public int BulkJobs { get; init; } = 100_000;
    public double SseSeconds { get; init; } = 60;

    public const string Usage = """
        usage: dotnet run --project bench -c Release -- [options]
          --quick            tiny sizes, one round: proves the harness works (./test.sh runs it)
          --rounds R         alternating rounds per workload (3)
          --n N              jobs for enqueue, http and drain (20000)
          --memory-jobs N    jobs for the memory workload (100000)
          --workloads a,b    subset of enqueue,http,drain,latency,retry,memory, or soak / sse-idle / bulk / schedule (not run unless named)
          --sse-streams N    idle live-event streams of sse-idle (1000); --sse-seconds S measured (60)
          bulk (OrleansTasks only, not run unless named): one POST /jobs/bulk cancel over --bulk-jobs N scheduled jobs
                             (100000; --quick: 500)
          --systems a,b      subset of OrleansTasks,Hangfire (profiling one side; ratios need both)
          soak (OrleansTasks only; --quick: 1000 jobs, retention 6 s, sweep and samples every 1 s):
          --soak-jobs N      jobs (200000)
          --soak-rate R      enqueues per second, paced (1000)
          --soak-retention S Jobs:Retention:Succeeded in seconds (60)
          --soak-sweep S     Jobs:Retention:SweepInterval in seconds (1)
          --soak-sample S    seconds between used_memory samples (5)
          schedule (OrleansTasks only, not run unless named; --quick: 3 schedules for 4 s):
          --schedules N      schedules firing every second (10)
          --schedule-seconds S  how long they run (30)
        """;

    public static BenchSettings Parse(string[] args)
    {
        var s = new BenchSettings();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException(Usage);
            s = args[i] switch
            {
                "--quick" => s with
                {
                    N = 300, Rounds = 1, LatencySeconds = 1, RetryJobs = 50, MemoryJobs = 1_000, WarmUp = 50,
                    SoakJobs = 1_000, SoakRetentionSeconds = 6, SoakSweepSeconds = 1, SoakSampleSeconds = 1,
                    ScheduleCount = 3, ScheduleSeconds = 4, BulkJobs = 500,
                },
                "--rounds" => s with { Rounds = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--n" => s with { N = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--memory-jobs" => s with { MemoryJobs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--workloads" => s with { Workloads = Next().Split(',') },
                "--systems" => s with { Systems = Next().Split(',') },
                "--soak-jobs" => s with { SoakJobs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--soak-rate" => s with { SoakRate = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--soak-retention" => s with { SoakRetentionSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--soak-sweep" => s with { SoakSweepSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--schedules" => s with { ScheduleCount = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--schedule-seconds" => s with { ScheduleSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--sse-streams" => s with { SseStreams = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--bulk-jobs" => s with { BulkJobs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--sse-seconds" => s with { SseSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--soak-sample" => s with { SoakSampleSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"unknown option {args[i]}\n{Usage}"),
            };
        }

        return s;
    }
}

public static class BenchMain
{
    public static async Task<int> Main(string[] args)
    {
        // Hangfire's client API is synchronous: its enqueues block thread-pool threads on Redis round trips, and
        // on 2 cores the pool grows by about one thread a second, which starved it to ~60 enqueues/s. A warm pool
        // is what a tuned Hangfire deployment runs with, so both systems get one.
        ThreadPool.SetMinThreads(200, 200);
        if (args is ["memory-child", var childSystem, var jobs, var redisEndpoint])
        {
            return await MemoryChild.RunAsync(childSystem, int.Parse(jobs, CultureInfo.InvariantCulture), redisEndpoint);
        }

        BenchSettings settings;
        try
        {
            settings = BenchSettings.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }

        var port = Ports.Free();
        var directory = Directory.CreateTempSubdirectory("orleanstasks-bench-").FullName;
        using var redisProcess = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory])
        { RedirectStandardOutput = true, UseShellExecute = false })!;
        var endpoint = $"127.0.0.1:{port}";
        ConnectionMultiplexer? admin = null;
        for (var attempt = 0; admin is null; attempt++)
        {
            try
            {
                admin = await ConnectionMultiplexer.ConnectAsync($"{endpoint},allowAdmin=true");
            }
            catch (RedisConnectionException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }

        Console.Error.WriteLine($"[bench] redis-server {endpoint} (no persistence); {Environment.ProcessorCount} cores; in-process layout for both systems");
        var server = admin.GetServers().Single();
        var workloads = new Workloads(server, settings);
        var results = new List<Measurement>();
        SoakResult? soak = null;
        try
        {
            foreach (var workload in settings.Workloads.Where(w => w is not "memory" and not "soak" and not "schedule" and not "sse-idle" and not "bulk"))
            {
                for (var round = 1; round <= settings.Rounds; round++)
                {
                    // Alternate who goes first, so neither always runs on a warmer machine.
                    string[] order = round % 2 == 1 ? ["OrleansTasks", "Hangfire"] : ["Hangfire", "OrleansTasks"];
                    foreach (var system in order.Where(settings.Systems.Contains))
                    {
                        await server.FlushAllDatabasesAsync();
                        await using var sut = await StartAsync(system, endpoint);
                        Probe.Reset();
                        await Workloads.Producers(settings.WarmUp, 8, _ => sut.EnqueueNoopAsync(0));
                        await Workloads.WaitDoneAsync(settings.WarmUp);
                        Probe.Reset();
                        var figures = workload switch
                        {
                            "enqueue" => await workloads.EnqueueAsync(sut),
                            "http" => await workloads.HttpAsync(sut),
                            "drain" => await workloads.DrainAsync(sut),
                            "latency" => await workloads.LatencyAsync(sut),
                            "retry" => await workloads.RetryAsync(sut),
                            _ => throw new ArgumentException($"unknown workload {workload}"),
                        };
                        Report(results, new Measurement(workload, system, round, settings.N, figures));
                    }
                }
            }

            if (settings.Workloads.Contains("memory"))
            {
                foreach (var system in settings.Systems)
                {
                    await server.FlushAllDatabasesAsync();
                    Report(results, new Measurement("memory", system, 1, settings.MemoryJobs, await MemoryChild.SpawnAsync(system, settings.MemoryJobs, endpoint)));
                }
            }

            if (settings.Workloads.Contains("schedule"))
            {
                await server.FlushAllDatabasesAsync();
                Report(results, new Measurement("schedule", "OrleansTasks", 1, settings.ScheduleCount,
                    await ScheduleWorkload.RunAsync(endpoint, settings.ScheduleCount, TimeSpan.FromSeconds(settings.ScheduleSeconds))));
            }

            if (settings.Workloads.Contains("sse-idle"))
            {
                await server.FlushAllDatabasesAsync();
                Report(results, new Measurement("sse-idle", "OrleansTasks", 1, settings.SseStreams,
                    await SseIdleWorkload.RunAsync(endpoint, settings.SseStreams, TimeSpan.FromSeconds(settings.SseSeconds))));
            }

            if (settings.Workloads.Contains("bulk"))
            {
                await server.FlushAllDatabasesAsync();
                Report(results, new Measurement("bulk", "OrleansTasks", 1, settings.BulkJobs, await BulkWorkload.RunAsync(endpoint, settings.BulkJobs)));
            }

            if (settings.Workloads.Contains("soak"))
            {
                await server.FlushAllDatabasesAsync();
                soak = await new Soak(server, endpoint, settings).RunAsync();
                Report(results, new Measurement("soak", "OrleansTasks", 1, settings.SoakJobs, soak.Figures));
            }
        }
        finally
        {
            redisProcess.Kill();
            Directory.Delete(directory, recursive: true);
        }

        Console.WriteLine();
        if (results.Any(r => r.Workload != "soak"))
        {
            Console.WriteLine(Table(results.Where(r => r.Workload != "soak").ToList()));
        }

        if (soak is not null)
        {
            Console.WriteLine(soak.Report);
        }

        return soak is { Passed: false } ? 1 : 0;
    }

    private static async Task<ISystemUnderTest> StartAsync(string system, string redis) => system == "OrleansTasks"
        ? await OrleansTasksSystem.StartAsync(redis)
        : await HangfireSystem.StartAsync(redis);

    private static void Report(List<Measurement> results, Measurement m)
    {
        results.Add(m);
        var line = new JsonObject
        {
            ["workload"] = m.Workload,
            ["system"] = m.System,
            ["round"] = m.Round,
            ["n"] = m.N,
        };
        foreach (var (name, value) in m.Figures)
        {
            line[name] = Math.Round(value, 3);
        }

        Console.WriteLine(line.ToJsonString());
    }

    /// <summary>Medians per system and the ratio OrleansTasks ÷ Hangfire.</summary>
    public static string Table(IReadOnlyList<Measurement> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| workload | figure | OrleansTasks | Hangfire | ratio (OrleansTasks ÷ Hangfire) |");
        text.AppendLine("|---|---|---:|---:|---:|");
        foreach (var group in results.GroupBy(r => r.Workload))
        {
            foreach (var figure in group.SelectMany(r => r.Figures.Keys).Distinct())
            {
                double Median(string system)
                {
                    var values = group.Where(r => r.System == system && r.Figures.ContainsKey(figure)).Select(r => r.Figures[figure]).Order().ToArray();
                    return values.Length == 0 ? double.NaN : values[values.Length / 2];
                }

                var ours = Median("OrleansTasks");
                var theirs = Median("Hangfire");
                text.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {figure} | {ours:0.##} | {theirs:0.##} | {ours / theirs:0.00} |");
            }
        }

        return text.ToString();
    }
}
