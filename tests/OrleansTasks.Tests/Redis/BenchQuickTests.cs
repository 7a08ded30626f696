using System.Diagnostics;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>The benchmark's quick mode: proves the harness runs both systems end to end. Asserts nothing about speed.</summary>
public sealed class BenchQuickTests
{
    [Fact]
    public async Task QuickBenchRunsEveryWorkloadOnBothSystemsAndPrintsTheRatioTable()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var bench = Path.Combine(RepoPaths.Root, "bench", "bin", configuration, "net10.0", "OrleansTasks.Bench.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { bench, "--quick" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(process.ExitCode == 0, $"bench failed:\n{stdout}\n{await stderr}");

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var runs = lines.Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        foreach (var workload in new[] { "enqueue", "http", "drain", "latency", "retry", "memory" })
        {
            foreach (var system in new[] { "OrleansTasks", "Hangfire" })
            {
                var run = Assert.Single(runs, r => r["workload"]!.GetValue<string>() == workload && r["system"]!.GetValue<string>() == system);
                Assert.True(run.Count > 4, $"{workload}/{system} reported no figures");
            }
        }

        Assert.Contains(lines, l => l.StartsWith("| workload | figure | OrleansTasks | Hangfire | ratio", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("| drain | jobsPerSecond |", StringComparison.Ordinal));
    }
}
