using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>The benchmark's quick mode: proves the harness runs both systems end to end, and the soak end to end. Asserts nothing about speed.</summary>
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

        // Round trips and commands inside scripts are counted apart: OrleansTasks' job writes are scripts.
        var drain = runs.Single(r => r["workload"]!.GetValue<string>() == "drain" && r["system"]!.GetValue<string>() == "OrleansTasks");
        Assert.InRange(drain["roundTripsPerJob"]!.GetValue<double>(), 1, 50);
        Assert.InRange(drain["scriptCommandsPerJob"]!.GetValue<double>(), 1, 100);
        Assert.True(drain["redisCommandsPerJob"]!.GetValue<double>() > drain["roundTripsPerJob"]!.GetValue<double>(), drain.ToJsonString());
    }

    [Fact]
    public async Task QuickSoakPrintsTheMemoryCurveAndPassesWithEveryJobSucceededAndRemovedByRetention()
    {
        var (exitCode, stdout, stderr) = await RepoTool.RunAsync("bench", "OrleansTasks.Bench", TimeSpan.FromMinutes(3), "--quick", "--workloads", "soak");
        Assert.True(exitCode == 0, $"bench failed:\n{stdout}\n{stderr}");

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var run = Assert.Single(lines.Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject()));
        Assert.Equal("soak", run["workload"]!.GetValue<string>());
        Assert.Equal("OrleansTasks", run["system"]!.GetValue<string>());
        Assert.Equal(1, run["passed"]!.GetValue<double>());
        Assert.Equal(1000, run["succeeded"]!.GetValue<double>());
        Assert.Equal(0, run["storedAtEnd"]!.GetValue<double>());
        Assert.True(run["samples"]!.GetValue<double>() >= 5, run.ToJsonString());
        Assert.Contains("Hangfire is not part of this workload", stdout, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("| t (s) | used_memory (MB) | enqueued | finished | stored |", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("first sample after one retention period", StringComparison.Ordinal));
        Assert.Contains(lines, l => l == "SOAK PASS");
    }

    [Fact]
    public async Task QuickBulkWorkloadCancelsEveryMatchingJobThroughOneAcceptedOperation()
    {
        var (exitCode, stdout, stderr) = await RepoTool.RunAsync("bench", "OrleansTasks.Bench", TimeSpan.FromMinutes(3), "--quick", "--workloads", "bulk");
        Assert.True(exitCode == 0, $"bench failed:\n{stdout}\n{stderr}");
        var run = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject()));
        Assert.Equal("bulk", run["workload"]!.GetValue<string>());
        Assert.Equal(500, run["matched"]!.GetValue<double>());
        Assert.Equal(500, run["done"]!.GetValue<double>());
        Assert.Equal(0, run["failed"]!.GetValue<double>());
        Assert.Equal(1, run["passed"]!.GetValue<double>());
    }

    [Fact]
    public async Task QuickScheduleWorkloadMeasuresOccurrencesAndNoneStartsBeforeItsInstant()
    {
        var (exitCode, stdout, stderr) = await RepoTool.RunAsync("bench", "OrleansTasks.Bench", TimeSpan.FromMinutes(3), "--quick", "--workloads", "schedule");
        Assert.True(exitCode == 0, $"bench failed:\n{stdout}\n{stderr}");
        var run = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject()));
        Assert.Equal("schedule", run["workload"]!.GetValue<string>());

        // 3 schedules firing every second for 4 s; a busy machine may lose a little at the edges, never all.
        Assert.True(run["occurrences"]!.GetValue<double>() >= 6, run.ToJsonString());

        // Never early: an occurrence's job never starts before the instant it is named after.
        Assert.True(run["earliestMs"]!.GetValue<double>() >= 0, run.ToJsonString());
        Assert.True(run["lagP99Ms"]!.GetValue<double>() >= run["lagP50Ms"]!.GetValue<double>(), run.ToJsonString());
    }
}
