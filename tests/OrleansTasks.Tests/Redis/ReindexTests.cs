using System.Globalization;
using System.Text.Json.Nodes;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// The reindex command (<c>dotnet OrleansTasks.Silo.dll reindex [--verify-only]</c>, run as a process): it finds
/// damaged indexes and rebuilds them, changes nothing when they are exact, and moves jobs stored by the stock
/// provider; a silo moves those at start-up too.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ReindexTests(RedisFixture fixture)
{
    // A job as the first release stored it (tests/.../Unit/StoredNamesTests.cs), dated today so that its retention
    // (1 day after FinishedAt) has not removed it before the test reads it.
    private const string StoredByTheFirstRelease = """
        {"Type":"send_welcome_email","PayloadJson":"{\u0022email\u0022:\u0022a@example.com\u0022}","Policy":{"MaxRetries":3,"MinBackoff":"00:00:15","MaxBackoff":"7.00:00:00","Timeout":"00:10:00"},"Status":4,"Attempts":2,"CreatedAt":"2026-11-01T08:00:00+00:00","ScheduledFor":"2026-11-01T08:00:00+00:00","StartedAt":"2026-11-01T08:00:01+00:00","FinishedAt":"2026-11-01T08:00:20+00:00","NextAttemptAt":null,"LastError":{"Type":"SmtpException","Message":"refused"},"ResultJson":"{\u0022sent\u0022:true}","History":[{"Number":1,"StartedAt":"2026-11-01T08:00:01+00:00","FinishedAt":"2026-11-01T08:00:02+00:00","Outcome":2,"Error":{"Type":"SmtpException","Message":"refused"},"Silo":"S127.0.0.1:11111:1"},{"Number":2,"StartedAt":"2026-11-01T08:00:19+00:00","FinishedAt":"2026-11-01T08:00:20+00:00","Outcome":1,"Error":null,"Silo":"S127.0.0.1:11111:1"}]}
        """;

    private RedisServer Server => fixture.Server;

    [Fact]
    public async Task ReindexFindsEachKindOfDamageRepairsItAndASecondRunChangesNothing()
    {
        var identity = ClusterIdentity.New();
        var keys = new JobKeys(identity.ServiceId);
        await using var silo = await RedisSilo.StartAsync(Server, identity);
        await using var client = await RedisClient.StartAsync(Server, identity);

        var succeeded = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            succeeded.Add((await client.Jobs.EnqueueAsync(new Echo($"ok {i}"), id: $"ok-{i}-{Guid.NewGuid():N}")).Snapshot!.Id);
        }

        var failed = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            failed.Add((await client.Jobs.EnqueueAsync(new Permanent("no"), id: $"failed-{i}-{Guid.NewGuid():N}")).Snapshot!.Id);
        }

        var scheduled = (await client.Jobs.EnqueueAsync(new Echo("later"), new JobOptions { Delay = TimeSpan.FromDays(1) }, $"later-{Guid.NewGuid():N}")).Snapshot!.Id;
        var cancelled = (await client.Jobs.EnqueueAsync(new Echo("never"), new JobOptions { Delay = TimeSpan.FromDays(1) }, $"cancelled-{Guid.NewGuid():N}")).Snapshot!.Id;
        await client.Jobs.CancelAsync(cancelled);
        foreach (var id in succeeded)
        {
            await client.WaitForAsync(id, s => s.Status == JobStatus.Succeeded);
        }

        foreach (var id in failed)
        {
            await client.WaitForAsync(id, s => s.Status == JobStatus.Failed);
        }

        string[] all = [.. succeeded, .. failed, scheduled, cancelled];
        var expected = new Dictionary<JobStatus, long> { [JobStatus.Succeeded] = 6, [JobStatus.Failed] = 2, [JobStatus.Scheduled] = 1, [JobStatus.Cancelled] = 1 };

        // The command reads and writes states as the silo does: what the silo stored round-trips byte for byte.
        var serializer = StandaloneJobIndex.StorageSerializer();
        foreach (var id in all)
        {
            var data = (byte[])(await Server.Database.HashGetAsync(keys.Job(id), "data"))!;
            Assert.Equal(data, serializer.Serialize(serializer.Deserialize<JobState>(new BinaryData(data))).ToArray());
        }

        var clean = await ReindexAsync(identity, verifyOnly: true);
        Assert.True(clean.ExitCode == 0, clean.Output);
        Assert.Equal(10, Field(clean.Report, "jobs"));
        Assert.Equal(0, Field(clean.Report, "mismatches"));

        // Damage: one job out of its status set, another added to a status set it is not in, a third out of the
        // expiry set (the sweeper would keep it for ever).
        var (dropped, misplaced, unexpiring) = (succeeded[0], succeeded[1], succeeded[2]);
        Assert.True(await Server.Database.SortedSetRemoveAsync(keys.ByStatus(JobKeys.PartitionOf(dropped), JobStatus.Succeeded), dropped));
        var created = (await Server.Database.SortedSetScoreAsync(keys.ByStatus(JobKeys.PartitionOf(misplaced), JobStatus.Succeeded), misplaced))!.Value;
        Assert.True(await Server.Database.SortedSetAddAsync(keys.ByStatus(JobKeys.PartitionOf(misplaced), JobStatus.Failed), misplaced, created));
        Assert.True(await Server.Database.SortedSetRemoveAsync(keys.Expiries(JobKeys.PartitionOf(unexpiring)), unexpiring));

        // The damage is what clients see; a job in two status sets is still listed once.
        var damagedCounts = await client.Jobs.CountsAsync();
        Assert.Equal(5, damagedCounts.Succeeded);
        Assert.Equal(3, damagedCounts.Failed);
        var damagedListing = await ListedIdsAsync(client);
        Assert.DoesNotContain(dropped, damagedListing);
        Assert.Single(damagedListing, id => id == misplaced);

        var damaged = await JobStoreContentsAsync(keys);
        var found = await ReindexAsync(identity, verifyOnly: true);
        Assert.True(found.ExitCode == 1, found.Output);
        Assert.Equal(2, Field(found.Report, "jobsMisindexed"));
        Assert.Equal(1, Field(found.Report, "staleEntries"));
        Assert.Equal(2, Field(found.Report, "countDifferences"));
        Assert.Equal(1, Field(found.Report, "listingDifferences"));
        Assert.Equal(0, Field(found.Report, "legacyJobs"));
        Assert.Equal(6, Field(found.Report, "mismatches"));
        Assert.False(found.Report["exact"]!.GetValue<bool>());

        Assert.Equal(damaged, await JobStoreContentsAsync(keys));

        var fixedRun = await ReindexAsync(identity, verifyOnly: false);
        Assert.True(fixedRun.ExitCode == 0, fixedRun.Output);
        Assert.Equal(6, Field(fixedRun.Report, "mismatches"));
        Assert.Equal(0, Field(fixedRun.Report, "remainingAfterFix"));
        Assert.True(fixedRun.Report["exact"]!.GetValue<bool>());

        var verified = await ReindexAsync(identity, verifyOnly: true);
        Assert.True(verified.ExitCode == 0, verified.Output);
        Assert.Equal(0, Field(verified.Report, "mismatches"));

        // Counts and the listing, as clients get them, agree with the stored jobs again.
        var counts = await client.Jobs.CountsAsync();
        foreach (var status in Enum.GetValues<JobStatus>())
        {
            Assert.Equal(expected.GetValueOrDefault(status), counts.Of(status));
        }

        Assert.Equal(all.Order(StringComparer.Ordinal), (await ListedIdsAsync(client)).Order(StringComparer.Ordinal));
        Assert.Equal([misplaced], (await client.Jobs.ListAsync(new JobFilter { Statuses = [JobStatus.Succeeded], IdPrefix = misplaced })).Items.Select(i => i.Id));
        Assert.Empty((await client.Jobs.ListAsync(new JobFilter { Statuses = [JobStatus.Failed], IdPrefix = misplaced })).Items);
        Assert.Equal([dropped], (await client.Jobs.ListAsync(new JobFilter { Statuses = [JobStatus.Succeeded], IdPrefix = dropped })).Items.Select(i => i.Id));
        var summary = Assert.Single((await client.Jobs.ListAsync(new JobFilter { IdPrefix = unexpiring })).Items);
        Assert.Equal(JobStatus.Succeeded, summary.Status);
        Assert.Equal("test_echo", summary.Type);
        Assert.Equal(summary.ExpiresAt!.Value.ToUnixTimeMilliseconds(),
            await Server.Database.SortedSetScoreAsync(keys.Expiries(JobKeys.PartitionOf(unexpiring)), unexpiring));

        // Idempotent: a second reindex finds nothing and leaves every key of the job store as it was.
        var before = await JobStoreContentsAsync(keys);
        var again = await ReindexAsync(identity, verifyOnly: false);
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Equal(0, Field(again.Report, "mismatches"));
        Assert.Equal(before, await JobStoreContentsAsync(keys));
    }

    [Fact]
    public async Task AJobStoredByTheStockProviderBeforeThisLayoutIsMovedWhenASiloStartsAndIsListedAndCounted()
    {
        var identity = ClusterIdentity.New();
        var keys = new JobKeys(identity.ServiceId);
        var id = $"first-release-{Guid.NewGuid():N}";
        var waiting = $"first-release-scheduled-{Guid.NewGuid():N}";
        await WriteLegacyAsync(keys, id, StoredToday());
        var serializer = StandaloneJobIndex.StorageSerializer();
        var now = DateTimeOffset.UtcNow;
        await WriteLegacyAsync(keys, waiting, serializer.Serialize(new JobState
        {
            Type = "test_echo",
            PayloadJson = """{"Value":"later"}""",
            Status = JobStatus.Scheduled,
            CreatedAt = now,
            ScheduledFor = now.AddDays(1),
            NextAttemptAt = now.AddDays(1),
        }).ToArray());

        await using var silo = await RedisSilo.StartAsync(Server, identity);
        await using var client = await RedisClient.StartAsync(Server, identity);

        var job = await client.Jobs.GetAsync(id);
        Assert.NotNull(job);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        Assert.Equal("send_welcome_email", job.Type);
        Assert.Equal(JobStatus.Scheduled, (await client.Jobs.GetAsync(waiting))?.Status);

        Assert.Contains(id, (await client.Jobs.ListAsync(new JobFilter { Statuses = [JobStatus.Succeeded], Type = "send_welcome_email" })).Items.Select(i => i.Id));
        Assert.Contains(waiting, (await client.Jobs.ListAsync(new JobFilter { Statuses = [JobStatus.Scheduled] })).Items.Select(i => i.Id));
        Assert.Equal(1, (await client.Jobs.CountsAsync("send_welcome_email")).Succeeded);
        Assert.Equal(1, (await client.Jobs.CountsAsync()).Of(JobStatus.Scheduled));

        Assert.False(await Server.Database.KeyExistsAsync(keys.Legacy(id)));
        Assert.False(await Server.Database.KeyExistsAsync(keys.Legacy(waiting)));
        Assert.True(await Server.Database.KeyExistsAsync(keys.Job(id)));

        var verified = await ReindexAsync(identity, verifyOnly: true);
        Assert.True(verified.ExitCode == 0, verified.Output);
        Assert.Equal(2, Field(verified.Report, "jobs"));
    }

    [Fact]
    public async Task AJobStoredByTheStockProviderWhileNoSiloRunsIsReportedAndMovedByReindex()
    {
        var identity = ClusterIdentity.New();
        var keys = new JobKeys(identity.ServiceId);

        // A silo has run on the new layout (so silos no longer look for legacy keys at start-up), then stopped.
        var earlier = $"earlier-{Guid.NewGuid():N}";
        await using (var silo = await RedisSilo.StartAsync(Server, identity))
        {
            await using var client = await RedisClient.StartAsync(Server, identity);
            await client.Jobs.EnqueueAsync(new Echo("before"), id: earlier);
            await client.WaitForAsync(earlier, s => s.Status == JobStatus.Succeeded);
        }

        // Then a job appears under its old key, as from a backup taken before the upgrade.
        var id = $"restored-{Guid.NewGuid():N}";
        await WriteLegacyAsync(keys, id, StoredToday());

        var found = await ReindexAsync(identity, verifyOnly: true);
        Assert.True(found.ExitCode == 1, found.Output);
        Assert.Equal(1, Field(found.Report, "legacyJobs"));
        Assert.Equal(1, Field(found.Report, "jobs"));
        Assert.True(await Server.Database.KeyExistsAsync(keys.Legacy(id)), "a verify only moved the job");

        var moved = await ReindexAsync(identity, verifyOnly: false);
        Assert.True(moved.ExitCode == 0, moved.Output);
        Assert.Equal(1, Field(moved.Report, "legacyJobs"));
        Assert.Equal(2, Field(moved.Report, "jobs"));
        Assert.Equal(0, Field(moved.Report, "remainingAfterFix"));
        Assert.False(await Server.Database.KeyExistsAsync(keys.Legacy(id)));

        await using var again = await RedisSilo.StartAsync(Server, identity);
        await using var reader = await RedisClient.StartAsync(Server, identity);
        Assert.Equal(JobStatus.Succeeded, (await reader.Jobs.GetAsync(id))?.Status);
        Assert.Equal([id], (await reader.Jobs.ListAsync(new JobFilter { Type = "send_welcome_email" })).Items.Select(i => i.Id));
        Assert.Equal(2, (await reader.Jobs.CountsAsync()).Succeeded);
    }

    [Fact]
    public async Task ReindexWithoutRedisConfiguredExitsWithAUsageErrorNamingTheSetting()
    {
        var (exitCode, stdout, stderr) = await RepoTool.RunAsync("Silo", "OrleansTasks.Silo", TimeSpan.FromMinutes(1),
            ReindexCommand.Name, ReindexCommand.VerifyOnly, $"--{ClusterSettings.RedisKey}=");
        Assert.Equal(2, exitCode);
        Assert.Contains(ClusterSettings.RedisKey, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("{", stdout, StringComparison.Ordinal);
    }

    private static byte[] StoredToday() =>
        System.Text.Encoding.UTF8.GetBytes(StoredByTheFirstRelease.Replace("2026-11-01", DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), StringComparison.Ordinal));

    /// <summary>Writes a job as the stock Orleans Redis grain storage did: a hash with <c>etag</c> and <c>data</c>.</summary>
    private Task WriteLegacyAsync(JobKeys keys, string id, byte[] data) =>
        Server.Database.HashSetAsync(keys.Legacy(id), [new HashEntry("etag", Guid.NewGuid().ToString("N")), new HashEntry("data", data)]);

    private async Task<(int ExitCode, JsonObject Report, string Output)> ReindexAsync(ClusterIdentity identity, bool verifyOnly)
    {
        List<string> args = [ReindexCommand.Name, $"--{ClusterSettings.RedisKey}={Server.ConnectionString}", $"--Orleans:ServiceId={identity.ServiceId}"];
        if (verifyOnly)
        {
            args.Add(ReindexCommand.VerifyOnly);
        }

        var (exitCode, stdout, stderr) = await RepoTool.RunAsync("Silo", "OrleansTasks.Silo", TimeSpan.FromMinutes(2), [.. args]);
        var output = $"exit {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}";
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        Assert.True(line is not null && line.StartsWith('{'), $"no report line; {output}");
        return (exitCode, JsonNode.Parse(line)!.AsObject(), output);
    }

    private static long Field(JsonObject report, string name) =>
        report[name]?.GetValue<long>() ?? throw new InvalidOperationException($"The report has no {name}: {report.ToJsonString()}");

    private static async Task<List<string>> ListedIdsAsync(RedisClient client)
    {
        var ids = new List<string>();
        await foreach (var item in client.Jobs.ListAllAsync())
        {
            ids.Add(item.Id);
        }

        return ids;
    }

    /// <summary>Every key of the job store's partitions with its full content, to compare before and after.</summary>
    private async Task<SortedDictionary<string, string>> JobStoreContentsAsync(JobKeys keys)
    {
        var contents = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var server = Server.Connection.GetServers().Single();
        for (var p = 0; p < JobKeys.Partitions; p++)
        {
            await foreach (var key in server.KeysAsync(pattern: keys.Prefix(p) + "*"))
            {
                contents[key.ToString()] = await Server.Database.KeyTypeAsync(key) switch
                {
                    RedisType.Hash => string.Join(";", (await Server.Database.HashGetAllAsync(key)).OrderBy(e => e.Name.ToString(), StringComparer.Ordinal).Select(e => $"{e.Name}={e.Value}")),
                    RedisType.SortedSet => string.Join(";", (await Server.Database.SortedSetRangeByRankWithScoresAsync(key)).Select(e => $"{e.Element}={e.Score.ToString(CultureInfo.InvariantCulture)}")),
                    var type => type.ToString(),
                };
            }
        }

        return contents;
    }
}
