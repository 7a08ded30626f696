using Microsoft.Extensions.Logging;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

[Collection(RedisCollection.Name)]
public sealed class RedisDurabilityCheckTests(RedisFixture redis)
{
    [Fact]
    public async Task StartUpCheckReadsTheRealServerAndWarnsWhenItWouldLoseJobs()
    {
        // The test server runs with --save "" and --appendonly no: a restart would lose every job.
        using var logs = new LogCapture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var check = new RedisDurabilityCheck(redis.Server.ConnectionString, factory.CreateLogger<RedisDurabilityCheck>());

        await check.StartAsync(CancellationToken.None);

        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Critical);
        Assert.Contains("neither AOF", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartUpCheckIsQuietAboutASafeServer()
    {
        await using var safe = await RedisServer.StartAsync("--appendonly", "yes", "--maxmemory-policy", "noeviction");
        using var logs = new LogCapture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));

        await new RedisDurabilityCheck(safe.ConnectionString, factory.CreateLogger<RedisDurabilityCheck>()).StartAsync(CancellationToken.None);

        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Contains(logs.Entries, e => e.Message.Contains("keeps jobs safe", StringComparison.Ordinal));
    }
}
