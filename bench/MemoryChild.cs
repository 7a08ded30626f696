using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;

namespace OrleansTasks.Bench;

/// <summary>
/// The memory workload runs in a fresh process per system, so one system's heap never counts against the other:
/// drain the jobs, read peak and current RSS (at half and at the end, to see growth), and Redis bytes per job.
/// </summary>
public static class MemoryChild
{
    public static async Task<Dictionary<string, double>> SpawnAsync(string system, int jobs, string redis)
    {
        var start = new ProcessStartInfo("dotnet", [typeof(MemoryChild).Assembly.Location, "memory-child", system, jobs.ToString(CultureInfo.InvariantCulture), redis])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var child = Process.Start(start)!;
        var output = await child.StandardOutput.ReadToEndAsync();
        await child.WaitForExitAsync();
        return child.ExitCode == 0
            ? JsonSerializer.Deserialize<Dictionary<string, double>>(output.Trim().Split('\n')[^1])!
            : throw new InvalidOperationException($"memory child for {system} failed: {output}");
    }

    public static async Task<int> RunAsync(string system, int jobs, string redis)
    {
        using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis},allowAdmin=true");
        var server = admin.GetServers().Single();
        await using ISystemUnderTest sut = system == "OrleansTasks" ? await OrleansTasksSystem.StartAsync(redis) : await HangfireSystem.StartAsync(redis);
        var usedBefore = await UsedMemoryAsync(server);
        Probe.Reset();
        var half = jobs / 2;
        await Workloads.Producers(half, 8, _ => sut.EnqueueNoopAsync(0));
        await Workloads.WaitDoneAsync(half);
        await sut.WaitIdleAsync();
        var heapHalf = GC.GetTotalMemory(forceFullCollection: true) / 1048576.0;
        var rssHalf = Rss("VmRSS");
        await Workloads.Producers(jobs - half, 8, _ => sut.EnqueueNoopAsync(0));
        await Workloads.WaitDoneAsync(jobs);
        await sut.WaitIdleAsync();
        var heapEnd = GC.GetTotalMemory(forceFullCollection: true) / 1048576.0;
        var figures = new Dictionary<string, double>
        {
            ["liveHeapAtHalfMb"] = heapHalf,
            ["liveHeapAtEndMb"] = heapEnd,
            ["rssPeakMb"] = Rss("VmHWM"),
            ["rssAtHalfMb"] = rssHalf,
            ["rssAtEndMb"] = Rss("VmRSS"),
            ["redisBytesPerJob"] = (double)(await UsedMemoryAsync(server) - usedBefore) / jobs,
        };
        Console.WriteLine(JsonSerializer.Serialize(figures));
        if (Environment.GetEnvironmentVariable("BENCH_HOLD_SECONDS") is { } hold)
        {
            // Profiling aid: keep the process alive so dotnet-gcdump can attach.
            Console.Error.WriteLine($"[bench] memory child {Environment.ProcessId} holding");
            await Task.Delay(TimeSpan.FromSeconds(int.Parse(hold, CultureInfo.InvariantCulture)));
        }

        return 0;
    }

    private static async Task<long> UsedMemoryAsync(IServer server) =>
        long.Parse((await server.InfoAsync("memory")).SelectMany(g => g).First(p => p.Key == "used_memory").Value, CultureInfo.InvariantCulture);

    /// <summary>A /proc/self/status figure (VmRSS, VmHWM) in MB.</summary>
    private static double Rss(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
