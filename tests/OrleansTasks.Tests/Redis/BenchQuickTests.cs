using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>The benchmark's quick mode: proves the harness runs both systems end to end. Asserts nothing about speed.</summary>
public sealed class BenchQuickTests
{
    [Fact]
    public async Task QuickBenchRunsEveryWorkloadOnBothSystemsAndPrintsTheRatioTable()
    {
        var (exitCode, stdout, stderr) = await RepoTool.RunAsync("bench", "OrleansTasks.Bench", TimeSpan.FromMinutes(5), "--quick");
        Assert.True(exitCode == 0, $"bench failed:\n{stdout}\n{stderr}");

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
