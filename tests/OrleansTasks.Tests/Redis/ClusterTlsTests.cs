using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// Mutual TLS inside the cluster (<c>Orleans:Tls</c>): silos talk to each other and clients reach gateways only with a
/// certificate from the cluster's CA. Certificates are made by the test; everything runs on loopback.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ClusterTlsTests(RedisFixture redis) : IDisposable
{
    private static readonly TimeSpan RefusalDeadline = TimeSpan.FromSeconds(60);

    private readonly TestCertificates _cluster = TestCertificates.CreateAuthority("OrleansTasks test cluster CA");
    private readonly TestCertificates _stranger = TestCertificates.CreateAuthority("Some other CA");

    [Fact]
    public async Task TwoSilosAndAClientWithCertificatesFromTheClusterCaRunJobsOverTls()
    {
        var identity = ClusterIdentity.New();
        var siloSettings = Settings(_cluster.Issue("silo"), _cluster);
        await using var first = await RedisSilo.StartAsync(redis.Server, identity, overrides: siloSettings);
        await using var second = await RedisSilo.StartAsync(redis.Server, identity, overrides: siloSettings);

        // The API's own client-side TLS setup (OrleansClientSetup), with a certificate of its own from the same CA.
        var clientTls = Bind(Settings(_cluster.Issue("api"), _cluster));
        await using var client = await RedisClient.StartAsync(redis.Server, identity, c => c.UseClusterTls(clientTls));

        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            ids.Add((await client.Jobs.EnqueueAsync(new Echo($"tls {i}"))).Snapshot!.Id);
        }

        var done = new List<JobSnapshot>();
        foreach (var id in ids)
        {
            done.Add(await client.WaitForAsync(id, s => s.Status.IsTerminal()));
        }

        Assert.All(done, d => Assert.Equal(JobStatus.Succeeded, d.Status));

        // Random placement over two silos: both running jobs means calls crossed the silo-to-silo link, also under TLS.
        Assert.Contains(done, d => first.Ran(d.History[0]));
        Assert.Contains(done, d => second.Ran(d.History[0]));
    }

    [Fact]
    public async Task AClientWithACertificateFromAnotherCaIsRefused()
    {
        var identity = ClusterIdentity.New();
        var logs = new LogCapture();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, logs: logs, overrides: Settings(_cluster.Issue("silo"), _cluster));

        // The client trusts the cluster's CA, so only the silo's check of the client's certificate can stop it.
        var strangerTls = Bind(Settings(_stranger.Issue("intruder"), _cluster, password: _stranger.Password));
        await AssertCannotConnectAsync(identity, logs, c => c.UseClusterTls(strangerTls));
    }

    [Fact]
    public async Task AClientThatDoesNotTrustTheClusterCaRefusesTheGateway()
    {
        var identity = ClusterIdentity.New();
        var logs = new LogCapture();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, logs: logs, overrides: Settings(_cluster.Issue("silo"), _cluster));

        // A valid cluster certificate, but the client only trusts another CA: it must not talk to the gateway.
        var wary = Bind(Settings(_cluster.Issue("api"), _stranger, password: _cluster.Password));
        await AssertCannotConnectAsync(identity, logs, c => c.UseClusterTls(wary));
    }

    [Fact]
    public async Task AClientWithoutTlsCannotConnect()
    {
        var identity = ClusterIdentity.New();
        var logs = new LogCapture();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, logs: logs, overrides: Settings(_cluster.Issue("silo"), _cluster));
        await AssertCannotConnectAsync(identity, logs, configure: null);
    }

    /// <summary>
    /// The client keeps retrying a gateway that refuses it, so "cannot connect" is: the silo logged two refused TLS
    /// handshakes (the client tried again after the first refusal and was refused again) while the client's start
    /// had not succeeded — the window ends on those events, not on a clock.
    /// </summary>
    private async Task AssertCannotConnectAsync(ClusterIdentity identity, LogCapture siloLogs, Action<Orleans.Hosting.IClientBuilder>? configure)
    {
        using var deadline = new CancellationTokenSource(RefusalDeadline);
        var start = RedisClient.StartAsync(redis.Server, identity, configure, deadline.Token);
        await Poll.UntilAsync(
            () => Task.FromResult(start.IsCompleted || siloLogs.Entries.Count(e => e.Category.Contains("Tls", StringComparison.Ordinal) && e.Level >= LogLevel.Warning) >= 2),
            done => done, RefusalDeadline, "the silo to log two refused TLS handshakes");
        await deadline.CancelAsync();
        var failure = await Record.ExceptionAsync(async () => await (await start).DisposeAsync());
        Assert.True(failure is not null, "a client the cluster must refuse connected");
        Assert.Contains(siloLogs.Entries, e => e.Category.Contains("Tls", StringComparison.Ordinal) && e.Level >= LogLevel.Warning);
    }

    private Dictionary<string, string?> Settings(string certificatePath, TestCertificates trusted, string? password = null) => new()
    {
        ["Orleans:Tls:CertificatePath"] = certificatePath,
        ["Orleans:Tls:CertificatePassword"] = password ?? _cluster.Password,
        ["Orleans:Tls:CaPath"] = trusted.CaPath,
    };

    private static ClusterTls Bind(Dictionary<string, string?> settings) =>
        ClusterSettings.Bind(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()).Tls;

    public void Dispose()
    {
        _cluster.Dispose();
        _stranger.Dispose();
    }
}
