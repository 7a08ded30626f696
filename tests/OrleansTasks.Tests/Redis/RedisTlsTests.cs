using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// Redis over TLS, with a password: the connection string turns TLS on (<c>ssl=true</c>), <c>Redis:TlsCaPath</c> names
/// the private CA the server's certificate must chain to. The server listens on a TLS port only; the certificates are
/// made by the test.
/// </summary>
public sealed class RedisTlsTests : IDisposable
{
    private readonly TestCertificates _redisCa = TestCertificates.CreateAuthority("OrleansTasks test Redis CA");
    private readonly TestCertificates _otherCa = TestCertificates.CreateAuthority("Some other CA");
    private readonly string _password = $"pw-{Guid.NewGuid():N}";

    [Fact]
    public async Task ASiloAndTheApiRunAJobOnATlsOnlyPasswordProtectedRedisTrustingItsCaThroughRedisTlsCaPath()
    {
        await using var redis = await TlsRedis.StartAsync(_redisCa, _password);
        var caPath = _redisCa.WriteCaPem();
        var identity = ClusterIdentity.New();
        var settings = Settings(redis, caPath, identity);

        // The silo as Silo/Program.cs builds it, from the same keys a deployment sets.
        using var silo = SiloHost.Build([.. settings.Select(p => $"--{p.Key}={p.Value}")]);
        var siloLogs = new LogCapture();
        silo.Services.GetRequiredService<ILoggerFactory>().AddProvider(siloLogs);
        await silo.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            var apiLogs = new LogCapture();
            await using var api = new WebApplicationFactory<Program>().WithWebHostBuilder(web => settings.Aggregate(
                ApiFixture.WithTestKey(web).ConfigureServices(services => services.AddSingleton<ILoggerProvider>(apiLogs)),
                (builder, setting) => builder.UseSetting(setting.Key, setting.Value)));
            using var http = ApiFixture.WithTestKey(api.CreateClient());

            using var response = await http.PostAsync(new Uri("/signup", UriKind.Relative), ApiFixture.Json("""{"email":"tls@example.com"}"""));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["jobId"]!.GetValue<string>();
            var job = await Poll.UntilAsync(() => http.GetFromJsonAsync<JsonObject>(new Uri($"/jobs/{id}", UriKind.Relative)),
                j => j!["status"]!.GetValue<string>() is "succeeded" or "failed", TimeSpan.FromSeconds(60), $"job {id} over HTTP");
            Assert.Equal("succeeded", job!["status"]!.GetValue<string>());

            // The silo's own admin connection (the headroom monitor's INFO) goes through the same TLS settings.
            var headroom = silo.Services.GetRequiredService<StorageHeadroom>();
            await Poll.UntilAsync(() => Task.FromResult(headroom.Last?.UsedBytes ?? 0), used => used > 0, TimeSpan.FromSeconds(30),
                "the headroom monitor to read INFO memory over TLS");

            // So does the reindex command.
            using var output = new StringWriter();
            using var error = new StringWriter();
            var exitCode = await ReindexCommand.RunAsync([.. settings.Select(p => $"--{p.Key}={p.Value}"), ReindexCommand.VerifyOnly],
                null, output, error);
            Assert.True(exitCode == 0, $"reindex exited {exitCode}: {output}{error}");

            Assert.DoesNotContain(siloLogs.Entries.Concat(apiLogs.Entries), e => e.FullText.Contains(_password, StringComparison.Ordinal));
        }
        finally
        {
            await silo.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }
    }

    [Fact]
    public async Task ARedisCertificateFromAnotherCaFailsSiloStartUpNamingRedisTlsCaPath()
    {
        await using var redis = await TlsRedis.StartAsync(_redisCa, _password);
        var settings = Settings(redis, _otherCa.WriteCaPem(), ClusterIdentity.New());

        using var silo = SiloHost.Build([.. settings.Select(p => $"--{p.Key}={p.Value}")]);
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => silo.StartAsync().WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.False(failure is TimeoutException, $"the silo start-up hung instead of failing: {failure}");
        Assert.Contains(RedisTls.CaPathKey, failure.Message, StringComparison.Ordinal);
        Assert.Contains("TLS", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_password, failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void RedisTlsCaPathOnAConnectionWithoutTlsIsAStartUpErrorNamingTheSetting()
    {
        var failure = Assert.ThrowsAny<Exception>(() => RedisConnectionOptions.Create("127.0.0.1:6379", _redisCa.WriteCaPem()));
        Assert.Contains(RedisTls.CaPathKey, failure.Message, StringComparison.Ordinal);
        Assert.Contains("ssl=true", failure.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> Settings(TlsRedis redis, string caPath, ClusterIdentity identity) => new()
    {
        [ClusterSettings.RedisKey] = redis.ConnectionString,
        [RedisTls.CaPathKey] = caPath,
        ["Orleans:ClusterId"] = identity.ClusterId,
        ["Orleans:ServiceId"] = identity.ServiceId,
        ["Orleans:Endpoints:SiloPort"] = RedisServer.FreePort().ToString(CultureInfo.InvariantCulture),
        ["Orleans:Endpoints:GatewayPort"] = RedisServer.FreePort().ToString(CultureInfo.InvariantCulture),
        ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",
        ["Examples:EmailDuration"] = "00:00:00.100",
    };

    public void Dispose()
    {
        _redisCa.Dispose();
        _otherCa.Dispose();
    }

    /// <summary>A redis-server with no plain-text port, TLS on a free loopback port, and <c>requirepass</c>.</summary>
    private sealed class TlsRedis : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _directory;

        private TlsRedis(Process process, string directory, int port, string password)
        {
            _process = process;
            _directory = directory;
            ConnectionString = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)},password={password},ssl=true";
        }

        public string ConnectionString { get; }

        public static async Task<TlsRedis> StartAsync(TestCertificates ca, string password)
        {
            var port = RedisServer.FreePort();
            var directory = Directory.CreateTempSubdirectory("orleanstasks-redis-tls-").FullName;
            var server = ca.IssuePem("redis");
            var caPem = ca.WriteCaPem();
            var start = new ProcessStartInfo("redis-server")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in (string[])["--port", "0", "--tls-port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                "--tls-cert-file", server, "--tls-key-file", server, "--tls-ca-cert-file", caPem, "--tls-auth-clients", "no",
                "--requirepass", password, "--dir", directory, "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--maxmemory-policy", "noeviction"])
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var redis = new TlsRedis(process, directory, port, password);
            try
            {
                // Through the production options, so "ready" also means the CA check accepts this server.
                var options = RedisConnectionOptions.Create(redis.ConnectionString, caPem);
                options.ConnectTimeout = 1000;
                await Poll.UntilAsync(async () =>
                {
                    Assert.False(process.HasExited, "redis-server exited: does it support TLS (--tls-port)?");
                    try
                    {
                        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
                        return await connection.GetDatabase().PingAsync() > TimeSpan.Zero;
                    }
                    catch (RedisException)
                    {
                        return false;
                    }
                }, ok => ok, TimeSpan.FromSeconds(20), "the TLS redis-server to answer");
            }
            catch
            {
                await redis.DisposeAsync();
                throw;
            }

            return redis;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // Leftover temp files are harmless.
            }
        }
    }
}
