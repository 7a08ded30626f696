using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>Live job events follow a job from one silo to another: the API hears every silo through one Redis subscription.</summary>
[Collection(RedisCollection.Name)]
public sealed class JobEventsMultiSiloTests(RedisFixture redis)
{
    [Fact]
    public async Task AStreamFollowsTheJobWhenItsNextAttemptRunsOnTheOtherSiloAndSeesItEnd()
    {
        var identity = ClusterIdentity.New();
        var silos = new List<RedisSilo> { await RedisSilo.StartAsync(redis.Server, identity), await RedisSilo.StartAsync(redis.Server, identity) };
        await using var api = new WebApplicationFactory<Program>().WithWebHostBuilder(web => ApiFixture.WithTestKey(web
            .UseSetting("ConnectionStrings:Redis", redis.Server.ConnectionString)
            .UseSetting("Orleans:ClusterId", identity.ClusterId)
            .UseSetting("Orleans:ServiceId", identity.ServiceId)));
        using var http = ApiFixture.WithTestKey(api.CreateClient());
        try
        {
            var gate = $"sse-multi-{Guid.NewGuid():N}";
            using var response = await http.PostAsync(new Uri("/jobs", UriKind.Relative),
                ApiFixture.Json($$$"""{"type":"test_progress_gate","payload":{"gate":"{{{gate}}}"}}"""));
            response.EnsureSuccessStatusCode();
            var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
            var running = await Poll.UntilAsync(() => GetAsync(http, id), j => j["status"]!.GetValue<string>() == "running");
            var first = running["history"]![0]!["silo"]!.GetValue<string>();

            await using var stream = await SseStream.OpenAsync(http, $"/jobs/{id}/events");
            Assert.Equal("snapshot", (await stream.NextAsync())!.Event);

            // The silo running the attempt stops: the job is handed off and its next attempt runs on the other one,
            // whose writes the stream must hear as well.
            var runningSilo = silos.Single(s => s.Ran(new Jobs.JobAttempt(1, default, null, Jobs.AttemptOutcome.Running, null, first)));
            await runningSilo.StopAsync();
            var other = silos.Single(s => s != runningSilo);
            await Poll.UntilAsync(() => GetAsync(http, id),
                j => j["status"]!.GetValue<string>() == "running" && j["history"]!.AsArray().Count == 2, TimeSpan.FromSeconds(60));
            TestJobLog.Open(gate);

            var events = await stream.ReadToEndAsync(TimeSpan.FromSeconds(60));
            var attempts = events.Where(e => e.Event == "attempt").Select(e => e.Json).ToList();
            Assert.Contains(attempts, a => a["number"]!.GetValue<int>() == 1 && a["outcome"]!.GetValue<string>() == "handedOff");
            Assert.Contains(attempts, a => a["number"]!.GetValue<int>() == 2 && a["outcome"]!.GetValue<string>() == "succeeded"
                && other.Ran(new Jobs.JobAttempt(2, default, null, Jobs.AttemptOutcome.Succeeded, null, a["silo"]!.GetValue<string>())));
            Assert.Contains(events, e => e.Event == "progress" && e.Json["percent"]!.GetValue<double>() == 100);
            Assert.Equal("succeeded", events[^1].Json["status"]!.GetValue<string>());
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static async Task<JsonObject> GetAsync(HttpClient http, string id)
    {
        using var response = await http.GetAsync(new Uri($"/jobs/{id}", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }
}
