using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// Live job events do not depend on the job's activation: when it is collected while the job waits for its retry, the
/// reminder brings the job back in a new activation and the open stream hears that one's writes too.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class JobEventsCollectedActivationTests(RedisFixture redis)
{
    [Fact]
    public async Task AStreamSeesTheRetryAndTheEndAfterTheJobsActivationIsCollectedWhileItWaitsForTheRetry()
    {
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity);
        await using var api = new WebApplicationFactory<Program>().WithWebHostBuilder(web => ApiFixture.WithTestKey(web
            .UseSetting("ConnectionStrings:Redis", redis.Server.ConnectionString)
            .UseSetting("Orleans:ClusterId", identity.ClusterId)
            .UseSetting("Orleans:ServiceId", identity.ServiceId)));
        using var http = ApiFixture.WithTestKey(api.CreateClient());

        // The first attempt fails; the retry is 5 to 7.5 s later (backoff plus jitter): near enough that the engine
        // would wait for it in memory, far enough to collect the activation before it. The short delay lets the
        // stream open before the first attempt, so its failure arrives live.
        var id = $"sse-collected-{Guid.NewGuid():N}";
        using (var submitted = await http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json($$"""{"type":"test_flaky","id":"{{id}}","payload":{"failTimes":1},"minBackoff":"PT5S","delay":"PT2S"}""")))
        {
            submitted.EnsureSuccessStatusCode();
        }

        await using var stream = await SseStream.OpenAsync(http, $"/jobs/{id}/events");
        var before = new List<SseEvent>();
        while (true)
        {
            var e = await stream.NextAsync();
            Assert.NotNull(e);
            before.Add(e);
            if (e.Event is "snapshot" or "status" && e.Json["status"]!.GetValue<string>() == "retrying")
            {
                break;
            }
        }

        Assert.Equal("snapshot", before[0].Event);

        // While it waits for the retry, the job's activation stays (the engine keeps near retries warm)...
        var grains = silo.Services.GetRequiredService<IGrainFactory>();
        var management = grains.GetGrain<IManagementGrain>(0);
        var job = grains.GetGrain<IJobGrain>(id).GetGrainId();
        Assert.Contains(await management.GetDetailedGrainStatistics(), s => s.GrainId == job);

        // ...until the collector takes it: only the durable wake-up can bring the job back now.
        await Poll.UntilAsync(async () =>
        {
            await management.ForceActivationCollection(TimeSpan.Zero);
            return (await management.GetDetailedGrainStatistics()).Count(s => s.GrainId == job);
        }, count => count == 0, TimeSpan.FromSeconds(20), "the job's activation to be collected");

        // Nothing here reads the job from now on (a GET would activate it again): the next attempt must come from the
        // wake-up, in a new activation, and reach the stream all the same.
        var after = await stream.ReadToEndAsync(TimeSpan.FromSeconds(60));
        var attempts = before.Concat(after).Where(e => e.Event == "attempt").Select(e => e.Json).ToList();

        // The first failure arrived live, or (on a slow machine, the stream opened late) in the snapshot.
        Assert.Contains(attempts.Concat(before[0].Json["history"]!.AsArray().Select(a => a!.AsObject())),
            a => a["number"]!.GetValue<int>() == 1 && a["outcome"]!.GetValue<string>() == "failed");
        Assert.Contains(after, e => e.Event == "attempt" && e.Json["number"]!.GetValue<int>() == 2 && e.Json["outcome"]!.GetValue<string>() == "running");
        Assert.Contains(after, e => e.Event == "attempt" && e.Json["number"]!.GetValue<int>() == 2 && e.Json["outcome"]!.GetValue<string>() == "succeeded");

        // The collection itself told the client nothing (no hand-off of a job that was only waiting).
        Assert.DoesNotContain(attempts, a => a["outcome"]!.GetValue<string>() == "handedOff");
        Assert.NotEmpty(after);
        Assert.Equal("status", after[^1].Event);
        Assert.Equal("succeeded", after[^1].Json["status"]!.GetValue<string>());
        Assert.Equal(2, after[^1].Json["attempts"]!.GetValue<int>());
    }
}
