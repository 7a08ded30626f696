using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>The chaos tool's quick run (200 jobs, 2 SIGKILLs, a Redis restart) with real processes, on every change.</summary>
public sealed class ChaosRunTests
{
    [Fact]
    public async Task QuickChaosRunLosesNoJobAndHasNoUnexpectedFailureOrDuplicate()
    {
        var (exitCode, stdout, stderr) = await RepoTool.RunAsync(Path.Combine("tools", "Chaos"), "OrleansTasks.Chaos", TimeSpan.FromMinutes(5),
            "--quick", "--no-build", "--configuration", RepoTool.Configuration);

        var reportLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        Assert.True(reportLine is not null && reportLine.StartsWith('{'), $"no report; stderr:\n{stderr}");
        var report = JsonNode.Parse(reportLine)!.AsObject();
        Assert.Equal(200, report["submitted"]!.GetValue<int>());
        Assert.Equal(0, report["lost"]!.GetValue<int>());
        Assert.Equal(0, report["unexpectedFailures"]!.GetValue<int>());
        Assert.Equal(0, report["unexplainedDuplicates"]!.GetValue<int>());
        Assert.Equal(20, report["failedExpected"]!.GetValue<int>());
        Assert.Equal(2, report["kills"]!.GetValue<int>());
        Assert.Equal(1, report["redisRestarts"]!.GetValue<int>());
        Assert.Equal(0, exitCode);
    }
}
