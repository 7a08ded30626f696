using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary><c>/health/ready</c> against a real redis-server that is stopped, hung and brought back.</summary>
public sealed class ReadinessTests
{
    private const string NotAnswering = "The job cluster or its storage is not answering.";

    [Fact]
    public async Task ReadyIsServiceUnavailableWhileRedisIsHungOrStoppedAndNeverShowsExceptionText()
    {
        // AOF, so membership survives the restart as it would in production.
        await using var redis = await RedisServer.StartAsync("--appendonly", "yes", "--appendfsync", "always");
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis, identity);
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:Redis", redis.ConnectionString)
            .UseSetting("Orleans:ClusterId", identity.ClusterId)
            .UseSetting("Orleans:ServiceId", identity.ServiceId));
        using var http = factory.CreateClient();

        async Task ReadyBecomesAsync(HttpStatusCode expected, string what) =>
            await Poll.UntilAsync(() => ReadyAsync(http), status => status == expected, TimeSpan.FromSeconds(60), what);

        await ReadyBecomesAsync(HttpStatusCode.OK, "ready with everything up");

        // Hung: the process holds its port but answers nothing, as under a long fork or a stalled disk.
        var pid = (await redis.Connection.GetServers().Single().InfoAsync("server")).SelectMany(g => g).Single(p => p.Key == "process_id").Value;
        await SignalAsync("-STOP", pid);
        try
        {
            await ReadyBecomesAsync(HttpStatusCode.ServiceUnavailable, "not ready while Redis is paused");
        }
        finally
        {
            await SignalAsync("-CONT", pid);
        }

        await ReadyBecomesAsync(HttpStatusCode.OK, "ready again after Redis resumes");

        await redis.ShutdownAsync();
        await ReadyBecomesAsync(HttpStatusCode.ServiceUnavailable, "not ready while Redis is stopped");

        await redis.StartAgainAsync();
        await ReadyBecomesAsync(HttpStatusCode.OK, "ready again after Redis restarts");
    }

    /// <summary>The status of one probe; a 503 must carry the fixed detail and nothing of the exception behind it.</summary>
    private static async Task<HttpStatusCode> ReadyAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("Exception", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("timed out", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Redis", body, StringComparison.OrdinalIgnoreCase);
        if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(NotAnswering, JsonNode.Parse(body)!["detail"]!.GetValue<string>());
        }
        else
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        return response.StatusCode;
    }

    private static async Task SignalAsync(string signal, string pid)
    {
        using var kill = Process.Start("kill", [signal, int.Parse(pid, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }
}
