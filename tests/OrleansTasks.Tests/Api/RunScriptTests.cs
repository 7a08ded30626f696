using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>The README's run command, started for real, driven over HTTP as the quick start does, then stopped.</summary>
public sealed class RunScriptTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RunScriptStartsSiloAndApiThatServeTheQuickStartAndStopTogether(bool durable)
    {
        await using var redis = durable ? await RedisServer.StartAsync() : null;
        var apiPort = RedisServer.FreePort();
        var start = new ProcessStartInfo("bash")
        {
            ArgumentList = { Path.Combine(RepoPaths.Root, "run.sh") },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{apiPort}",
                ["Orleans__Endpoints__SiloPort"] = RedisServer.FreePort().ToString(CultureInfo.InvariantCulture),
                ["Orleans__Endpoints__GatewayPort"] = RedisServer.FreePort().ToString(CultureInfo.InvariantCulture),
                ["Orleans__ServiceId"] = $"run-{Guid.NewGuid():N}",
                ["Examples__EmailDuration"] = "00:00:00.200",
                ["Examples__ReportDuration"] = "00:00:00.200",
                ["Examples__ImageDuration"] = "00:00:00.200",
            },
        };
        if (redis is not null)
        {
            start.Environment["ConnectionStrings__Redis"] = redis.ConnectionString;
        }

        var output = new ConcurrentQueue<string>();
        using var script = Process.Start(start)!;
        script.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        script.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        script.BeginOutputReadLine();
        script.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        try
        {
            await Poll.UntilAsync(async () =>
            {
                Assert.False(script.HasExited, $"run.sh exited early:\n{string.Join('\n', output)}");
                try
                {
                    using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                    return ready.StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            }, status => status == HttpStatusCode.OK, TimeSpan.FromMinutes(4), "run.sh to serve /health/ready");

            Assert.Contains(output, line => line.Contains(durable ? "Durable mode" : "NOTHING IS DURABLE", StringComparison.Ordinal));

            var signup = await PostAsync(http, "/signup", """{"email": "test@example.com"}""");
            var failing = await PostAsync(http, "/signup", """{"email": "error@example.com"}""");
            var report = await PostAsync(http, "/create_report", """{"id": "monthly-sales", "data": {"month": "jan", "year": 2023}}""");
            var image = await PostAsync(http, "/process_image", """{"image_url": "https://example.com/image.jpg", "user_id": 123}""");

            Assert.Equal("succeeded", (await TerminalAsync(http, signup))["status"]!.GetValue<string>());
            Assert.Equal("Report monthly-sales generated successfully.", (await TerminalAsync(http, report))["result"]!.GetValue<string>());
            Assert.Equal("processed", (await TerminalAsync(http, image))["result"]!["status"]!.GetValue<string>());
            var failed = await TerminalAsync(http, failing);
            Assert.Equal("failed", failed["status"]!.GetValue<string>());
            Assert.Equal(4, failed["attempts"]!.GetValue<int>());
        }
        finally
        {
            // What Ctrl-C does in a terminal: the script's trap stops both processes.
            using var kill = Process.Start("kill", ["-TERM", script.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill!.WaitForExitAsync();
            await script.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }

        await Poll.UntilAsync(() => Task.FromResult(Accepts(apiPort)), accepts => !accepts, TimeSpan.FromSeconds(30), "the API to stop listening");
        Assert.Contains(output, line => line.Contains("Stopping", StringComparison.Ordinal));
    }

    private static async Task<string> PostAsync(HttpClient http, string route, string body)
    {
        using var response = await http.PostAsync(new Uri(route, UriKind.Relative), ApiFixture.Json(body));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["jobId"]!.GetValue<string>();
    }

    private static Task<JsonObject> TerminalAsync(HttpClient http, string id) =>
        Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonObject>(new Uri($"/jobs/{id}", UriKind.Relative)))!,
            job => job["status"]!.GetValue<string>() is "succeeded" or "failed", TimeSpan.FromSeconds(60), $"job {id}");

    private static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
