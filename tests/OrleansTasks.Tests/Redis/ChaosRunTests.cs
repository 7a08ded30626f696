using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// The chaos tool's quick run (200 jobs, 2 SIGKILLs, a Redis restart) with real processes, on every change. Its
/// counts come from Redis after the run (each job's stored state and history, and the probe's execution log), and the
/// job indexes are checked against a full scan of the stored states.
/// </summary>
public sealed class ChaosRunTests
{
    [Fact]
    public async Task QuickChaosRunLosesNoJobAndEveryExecutionMatchesTheStoredHistory()
    {
        var (exitCode, stdout, stderr) = await RepoTool.RunAsync(Path.Combine("tools", "Chaos"), "OrleansTasks.Chaos", TimeSpan.FromMinutes(5),
            "--quick", "--no-build", "--configuration", RepoTool.Configuration);

        var reportLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        Assert.True(reportLine is not null && reportLine.StartsWith('{'), $"no report; stderr:\n{stderr}");
        var report = JsonNode.Parse(reportLine)!.AsObject();
        int Count(string name) => report[name]!.GetValue<int>();

        Assert.Equal(200, Count("submitted"));

        // Every submitted id is stored in Redis in a terminal state, and only the always-failing tenth failed.
        Assert.Equal(0, Count("lost"));
        Assert.Equal(200, Count("succeeded") + Count("failed"));
        Assert.Equal(20, Count("failedExpected"));
        Assert.Equal(0, Count("unexpectedFailures"));

        // The probe's execution log against the stored history: each reported attempt ran exactly once, and every
        // extra run is matched by an interrupted or handed-off attempt.
        Assert.True(Count("executions") >= 200, $"{Count("executions")} executions logged for 200 jobs");
        Assert.Equal(0, Count("missingExecutions"));
        Assert.Equal(0, Count("unexplainedDuplicates"));
        Assert.True(Count("duplicateExecutions") <= Count("interruptedAttempts") + Count("handedOffAttempts"), reportLine);
        Assert.Equal(0, Count("apiDisagreements"));

        // Counts against a scan after silo kills: listings and counts agree with every stored job state.
        Assert.Equal(0, Count("indexMismatches"));
        Assert.Equal(200, report["indexCheck"]!["jobs"]!.GetValue<int>());

        Assert.Equal(2, Count("kills"));
        Assert.Equal(1, Count("redisRestarts"));
        Assert.Equal(0, exitCode);
    }
}
