using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// The whole system on a Redis with <c>requirepass</c>, the password given only in the connection string: storage,
/// reminders, clustering, the silo's admin connections, the API's client and the reindex command all authenticate,
/// and the password appears in no log line.
/// </summary>
public sealed class RedisPasswordTests
{
    [Fact]
    public async Task WholeSystemRunsJobsOnAPasswordProtectedRedisAndNoLogLineShowsThePassword()
    {
        var password = $"pw-{Guid.NewGuid():N}";
        await using var redis = await RedisServer.StartWithPasswordAsync(password, "--appendonly", "yes", "--maxmemory-policy", "noeviction");
        await AssertRefusesClientsWithoutThePasswordAsync(redis);

        var identity = ClusterIdentity.New();
        var siloLogs = new LogCapture();
        await using var silo = await RedisSilo.StartAsync(redis, identity, logs: siloLogs,
            services: services => SiloServicesLoggingEverything(services, redis.ConnectionString));

        var apiLogs = new LogCapture();
        await using var api = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting(ClusterSettings.RedisKey, redis.ConnectionString)
            .UseSetting("Orleans:ClusterId", identity.ClusterId)
            .UseSetting("Orleans:ServiceId", identity.ServiceId)
            .ConfigureServices(services => services
                .AddSingleton<ILoggerProvider>(apiLogs)
                .AddLogging(logging => logging.AddFilter<LogCapture>(level => level >= LogLevel.Information))));

        // The API's own Orleans client (clustering through Redis); no HTTP, so API keys play no part here.
        var jobs = api.Services.GetRequiredService<JobClient>();
        var now = (await jobs.EnqueueAsync(new Echo("now"))).Snapshot!.Id;

        // A delayed job waits for its reminder: the reminder table is in the same Redis.
        var later = (await jobs.EnqueueAsync(new Echo("later"), new JobOptions { Delay = TimeSpan.FromSeconds(2) })).Snapshot!.Id;
        foreach (var id in new[] { now, later })
        {
            var done = await jobs.UntilJobAsync(id, s => s.Status is JobStatus.Succeeded or JobStatus.Failed, TimeSpan.FromSeconds(60));
            Assert.Equal(JobStatus.Succeeded, done.Status);
        }

        // The retention sweeper's reminder stays registered: the reminder table is in this Redis.
        await Poll.UntilAsync(() => redis.Database.KeyExistsAsync($"{identity.ServiceId}/reminders"), exists => exists, TimeSpan.FromSeconds(30),
            "the reminder table in the password-protected Redis");

        // The silo's own admin connections: the durability check read CONFIG, the headroom monitor reads INFO.
        await Poll.UntilAsync(() => Task.FromResult(siloLogs.Entries.Any(e => e.Category.EndsWith(nameof(RedisDurabilityCheck), StringComparison.Ordinal) && e.EventId.Id == 111)),
            found => found, TimeSpan.FromSeconds(30), "the durability check to read the server's settings");
        var headroom = silo.Services.GetRequiredService<StorageHeadroom>();
        await Poll.UntilAsync(() => Task.FromResult(headroom.Last?.UsedBytes ?? 0), used => used > 0, TimeSpan.FromSeconds(30), "the headroom monitor to read INFO memory");

        // The reindex command connects on its own.
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ReindexCommand.RunAsync(
            [$"--{ClusterSettings.RedisKey}={redis.ConnectionString}", $"--Orleans:ServiceId={identity.ServiceId}", ReindexCommand.VerifyOnly],
            all => all.AddTestJobs(), output, error);
        Assert.True(exitCode == 0, $"reindex exited {exitCode}: {output}{error}");
        Assert.DoesNotContain(password, output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(password, error.ToString(), StringComparison.Ordinal);

        // The start-up lines name the Redis endpoint, without the password.
        var endpoint = $"127.0.0.1:{redis.Port}";
        Assert.Contains(siloLogs.Entries, e => e.Message.StartsWith("Durable mode", StringComparison.Ordinal) && e.Message.Contains(endpoint, StringComparison.Ordinal));
        Assert.Contains(apiLogs.Entries, e => e.Message.StartsWith("Finding silos through Redis membership", StringComparison.Ordinal) && e.Message.Contains(endpoint, StringComparison.Ordinal));
        AssertNoLineShows(password, siloLogs, "silo");
        AssertNoLineShows(password, apiLogs, "API");
    }

    [Fact]
    public async Task AWrongRedisPasswordFailsSiloStartUpAndReindexPromptlyWithoutShowingThePassword()
    {
        var password = $"pw-{Guid.NewGuid():N}";
        var wrong = $"wrong-{Guid.NewGuid():N}";
        await using var redis = await RedisServer.StartWithPasswordAsync(password);
        var connectionString = $"127.0.0.1:{redis.Port},password={wrong}";

        var logs = new LogCapture();
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => RedisSilo.StartAsync(redis, ClusterIdentity.New(), logs: logs,
            services: services => SiloServicesLoggingEverything(services, connectionString), connectionString: connectionString)
            .WaitAsync(TimeSpan.FromMinutes(2)));
        Assert.False(failure is TimeoutException, $"the silo start-up hung instead of failing: {failure}");
        Assert.Contains("auth", failure.ToString(), StringComparison.OrdinalIgnoreCase);

        // Clear: the error names the setting to fix (RedisCredentialsCheck), not only a provider's connection failure.
        Assert.Contains(ClusterSettings.RedisKey, failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, failure.ToString(), StringComparison.Ordinal);
        AssertNoLineShows(wrong, logs, "silo");

        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ReindexCommand.RunAsync([$"--{ClusterSettings.RedisKey}={connectionString}", ReindexCommand.VerifyOnly], null, output, error)
            .WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(2, exitCode);
        Assert.Contains("auth", error.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(wrong, output.ToString() + error, StringComparison.Ordinal);
    }

    /// <summary>The real silo's start-up lines and durability check, with every Information line captured.</summary>
    private static void SiloServicesLoggingEverything(IServiceCollection services, string connectionString)
    {
        services.AddLogging(logging => logging.AddFilter<LogCapture>(level => level >= LogLevel.Information));
        SiloHost.AddStartupServices(services, new ClusterSettings { Redis = connectionString });
    }

    private static async Task AssertRefusesClientsWithoutThePasswordAsync(RedisServer redis)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{redis.Port}");
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        await using var anonymous = await ConnectionMultiplexer.ConnectAsync(options);
        await Assert.ThrowsAnyAsync<RedisException>(() => anonymous.GetDatabase().StringGetAsync("anything"));
    }

    private static void AssertNoLineShows(string secret, LogCapture logs, string process)
    {
        Assert.NotEmpty(logs.Entries);
        var leaks = logs.Entries.Where(e => e.FullText.Contains(secret, StringComparison.Ordinal)).ToList();
        Assert.True(leaks.Count == 0, $"the {process} logged the password: {string.Join(" | ", leaks.Select(e => $"{e.Category}: {e.Message}"))}");
    }
}
