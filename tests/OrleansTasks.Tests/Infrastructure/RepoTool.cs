using System.Diagnostics;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>Runs one of the repository's own console tools (built with the tests) and collects its output.</summary>
public static class RepoTool
{
    /// <summary>The build configuration of this test assembly (bin/&lt;configuration&gt;/net10.0/), which the tools share.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    /// <summary>Runs <c>dotnet &lt;dir&gt;/bin/&lt;configuration&gt;/net10.0/&lt;assembly&gt;.dll args</c> and waits for it.</summary>
    public static async Task<(int ExitCode, string StandardOutput, string StandardError)> RunAsync(
        string projectDirectory, string assembly, TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(RepoPaths.Root, projectDirectory, "bin", Configuration, "net10.0", assembly + ".dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(timeout);
        return (process.ExitCode, stdout, await stderr);
    }
}
