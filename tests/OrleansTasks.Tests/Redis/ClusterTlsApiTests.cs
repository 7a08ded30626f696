using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using OrleansTasks.Hosting;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// The API itself as an Orleans client of a TLS cluster: configured only through the <c>Orleans:Tls</c> keys it reads at
/// start-up (Api/Infrastructure/OrleansClientSetup.cs), as a deployment sets them.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ClusterTlsApiTests(RedisFixture redis) : IDisposable
{
    private readonly TestCertificates _cluster = TestCertificates.CreateAuthority("OrleansTasks test cluster CA");
    private readonly TestCertificates _stranger = TestCertificates.CreateAuthority("Some other CA");

    [Fact]
    public async Task TheApiConfiguredWithOrleansTlsRunsJobsOverHttpThroughTwoTlsSilos()
    {
        var identity = ClusterIdentity.New();
        var siloSettings = TlsSettings(_cluster.Issue("silo"), _cluster.Password);
        await using var first = await RedisSilo.StartAsync(redis.Server, identity, overrides: siloSettings);
        await using var second = await RedisSilo.StartAsync(redis.Server, identity, overrides: siloSettings);

        var apiTls = TlsSettings(_cluster.Issue("api"), _cluster.Password);
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => apiTls.Aggregate(
            ApiFixture.WithTestKey(web)
                .UseSetting(ClusterSettings.RedisKey, redis.Server.ConnectionString)
                .UseSetting("Orleans:ClusterId", identity.ClusterId)
                .UseSetting("Orleans:ServiceId", identity.ServiceId),
            (builder, setting) => builder.UseSetting(setting.Key, setting.Value)));
        using var http = ApiFixture.WithTestKey(factory.CreateClient());

        var ids = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            using var response = await http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json($$$"""{"type":"test_echo","payload":{"value":"tls {{{i}}}"}}"""));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            ids.Add((await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>());
        }

        foreach (var id in ids)
        {
            var job = await Poll.UntilAsync(() => http.GetFromJsonAsync<JsonObject>(new Uri($"/jobs/{id}", UriKind.Relative)),
                j => j!["status"]!.GetValue<string>() is "succeeded" or "failed" or "cancelled", TimeSpan.FromSeconds(60), $"job {id} over HTTP");
            Assert.Equal("succeeded", job!["status"]!.GetValue<string>());
        }

        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task TheApiWithAClientCertificateFromAnotherCaNeverBecomesReady()
    {
        var identity = ClusterIdentity.New();
        var logs = new LogCapture();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, logs: logs, overrides: TlsSettings(_cluster.Issue("silo"), _cluster.Password));

        // The API process trusts the cluster's CA, so only the silo's check of the API's certificate can stop it. A
        // process of its own: the API keeps retrying a gateway that refuses it, and killing a process ends that cleanly.
        var environment = TlsSettings(_stranger.Issue("intruder"), _stranger.Password)
            .ToDictionary(p => p.Key.Replace(":", "__", StringComparison.Ordinal), p => p.Value);
        environment["ConnectionStrings__Redis"] = redis.Server.ConnectionString;
        environment["Orleans__ClusterId"] = identity.ClusterId;
        environment["Orleans__ServiceId"] = identity.ServiceId;
        await using var api = StrayApi.Start(environment);

        // Either the web server is not up (the client is still connecting) or it answers not ready: never 200. The
        // silo logging refused handshakes shows the API did reach it with its certificate; two of them, that it tried
        // again after the first refusal and was refused again — the window ends on those events, not on a clock.
        var deadline = Stopwatch.StartNew();
        var refused = 0;
        while (refused < 2)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"the silo logged {refused} refused TLS handshakes, not 2:\n{api.Tail()}");
            Assert.NotEqual(HttpStatusCode.OK, await api.ReadyAsync());
            refused = logs.Entries.Count(e => e.Category.Contains("Tls", StringComparison.Ordinal) && e.Level >= LogLevel.Warning);
            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        Assert.NotEqual(HttpStatusCode.OK, await api.ReadyAsync());

        Assert.False(api.HasExited, $"the API should keep trying, not crash:\n{api.Tail()}");
    }

    /// <summary>The keys a deployment sets; every process here trusts the cluster's CA.</summary>
    private Dictionary<string, string?> TlsSettings(string certificatePath, string password) => new()
    {
        ["Orleans:Tls:CertificatePath"] = certificatePath,
        ["Orleans:Tls:CertificatePassword"] = password,
        ["Orleans:Tls:CaPath"] = _cluster.CaPath,
    };

    public void Dispose()
    {
        _cluster.Dispose();
        _stranger.Dispose();
    }

    /// <summary>The built API in a process of its own, never awaited to be ready.</summary>
    private sealed class StrayApi : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _output = new();
        private readonly HttpClient _http;

        private StrayApi(Process process, int port)
        {
            _process = process;
            _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
            process.OutputDataReceived += (_, e) => _output.Enqueue(e.Data ?? string.Empty);
            process.ErrorDataReceived += (_, e) => _output.Enqueue(e.Data ?? string.Empty);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public bool HasExited => _process.HasExited;

        public static StrayApi Start(Dictionary<string, string?> environment)
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
            };
            start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }

            return new StrayApi(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start the API."), port);
        }

        /// <summary>The readiness status, or 503 while nothing listens yet.</summary>
        public async Task<HttpStatusCode> ReadyAsync()
        {
            try
            {
                using var response = await _http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                return response.StatusCode;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return HttpStatusCode.ServiceUnavailable;
            }
        }

        public string Tail() => string.Join('\n', _output.TakeLast(40));

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }
}
