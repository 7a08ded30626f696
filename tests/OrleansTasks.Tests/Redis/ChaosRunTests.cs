using System.Diagnostics;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>The chaos tool's quick run (200 jobs, 2 SIGKILLs, a Redis restart) with real processes, on every change.</summary>
public sealed class ChaosRunTests
{
    [Fact]
    public async Task QuickChaosRunLosesNoJobAndHasNoUnexpectedFailureOrDuplicate()
    {
        // Same build configuration as this test assembly: bin/<configuration>/net10.0/.
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var tool = Path.Combine(RepoPaths.Root, "tools", "Chaos", "bin", configuration, "net10.0", "OrleansTasks.Chaos.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { tool, "--quick", "--no-build", "--configuration", configuration },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));

        var reportLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        Assert.True(reportLine is not null && reportLine.StartsWith('{'), $"no report; stderr:\n{await stderr}");
        var report = JsonNode.Parse(reportLine)!.AsObject();
        Assert.Equal(200, report["submitted"]!.GetValue<int>());
        Assert.Equal(0, report["lost"]!.GetValue<int>());
        Assert.Equal(0, report["unexpectedFailures"]!.GetValue<int>());
        Assert.Equal(0, report["unexplainedDuplicates"]!.GetValue<int>());
        Assert.Equal(20, report["failedExpected"]!.GetValue<int>());
        Assert.Equal(2, report["kills"]!.GetValue<int>());
        Assert.Equal(1, report["redisRestarts"]!.GetValue<int>());
        Assert.Equal(0, process.ExitCode);
    }
}
