using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>
/// The built API (Api/bin/&lt;configuration&gt;/net10.0) in a process of its own. Unlike the in-process
/// WebApplicationFactory, it loads only the assemblies the API ships with, so a silo-only type sent to it fails
/// as it would in production.
/// </summary>
public sealed class ApiProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private ApiProcess(Process process, ConcurrentQueue<string> output, int port)
    {
        _process = process;
        _output = output;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(100) };
    }

    public HttpClient Http { get; }

    /// <summary>Everything the API wrote to stdout and stderr so far.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>The last <paramref name="lines"/> lines of <see cref="Output"/>, for failure messages.</summary>
    public string Tail(int lines = 40) => string.Join('\n', _output.TakeLast(lines));

    /// <summary>True once the API process has ended (crashed, or stopped by <see cref="DisposeAsync"/>).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts the API; <paramref name="environment"/> adds to (or replaces) the variables below, e.g. OTEL_* settings.</summary>
    public static async Task<ApiProcess> StartAsync(RedisServer redis, ClusterIdentity identity, IReadOnlyDictionary<string, string>? environment = null)
    {
        var directory = Path.Combine(RepoPaths.Root, "Api", "bin", RepoTool.Configuration, "net10.0");
        var port = RedisServer.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(directory, "OrleansTasks.Api.dll") },
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["ConnectionStrings__Redis"] = redis.ConnectionString,
                ["Orleans__ClusterId"] = identity.ClusterId,
                ["Orleans__ServiceId"] = identity.ServiceId,
                ["Logging__Console__FormatterName"] = "simple",
                ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            },
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var output = new ConcurrentQueue<string>();
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start the API.");
        process.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var api = new ApiProcess(process, output, port);
        try
        {
            await Poll.UntilAsync(async () =>
            {
                Assert.False(process.HasExited, $"the API exited early:\n{api.Output}");
                try
                {
                    using var ready = await api.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                    return ready.StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            }, status => status == HttpStatusCode.OK, TimeSpan.FromSeconds(90), "the API process to be ready");
        }
        catch
        {
            await api.DisposeAsync();
            throw;
        }

        return api;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }
}
