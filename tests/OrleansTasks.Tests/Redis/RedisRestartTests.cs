using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>Redis restarted gracefully (AOF on) in the middle of a load, under two silos and the API.</summary>
public sealed class RedisRestartTests
{
    [Fact]
    public async Task SilosAndApiRideOutARedisRestartLosingNoJobAndAnswering503MeanwhileNever500()
    {
        await using var redis = await RedisServer.StartAsync("--appendonly", "yes", "--appendfsync", "always");
        var identity = ClusterIdentity.New();
        await using var silo1 = await RedisSilo.StartAsync(redis, identity);
        await using var silo2 = await RedisSilo.StartAsync(redis, identity);
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => ApiFixture.WithTestKey(web
            .UseSetting("ConnectionStrings:Redis", redis.ConnectionString)
            .UseSetting("Orleans:ClusterId", identity.ClusterId)
            .UseSetting("Orleans:ServiceId", identity.ServiceId)));
        using var http = ApiFixture.WithTestKey(factory.CreateClient());
        var accepted = new List<string>();
        var statuses = new List<HttpStatusCode>();

        async Task<HttpStatusCode> SubmitAsync(int i)
        {
            var body = (i % 3) switch
            {
                0 => """{"type":"test_echo","payload":{"value":"x"}}""",
                1 => """{"type":"test_flaky","payload":{"failTimes":1},"minBackoff":"PT1S"}""",
                _ => """{"type":"test_slow","payload":{"milliseconds":1500}}""",
            };
            using var response = await http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json(body));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.Add((await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>());
            }
            else
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }

            return response.StatusCode;
        }

        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, await SubmitAsync(i));
        }

        await redis.ShutdownAsync();

        // While Redis is away a submission cannot be made durable: the API must say so with a 503.
        var i503 = 0;
        await Poll.UntilAsync(() => SubmitAsync(100 + i503++), status => status == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(60), "a 503 while Redis is down");
        using (var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative)))
        {
            Assert.NotEqual(HttpStatusCode.InternalServerError, ready.StatusCode);
        }

        await redis.StartAgainAsync();

        // Both processes reconnect by themselves: submissions succeed again.
        var j = 0;
        await Poll.UntilAsync(() => SubmitAsync(200 + j++), status => status == HttpStatusCode.Accepted,
            TimeSpan.FromSeconds(60), "submissions to succeed after Redis is back");
        for (var k = 0; k < 30; k++)
        {
            Assert.Equal(HttpStatusCode.Accepted, await SubmitAsync(300 + k));
        }

        Assert.DoesNotContain(HttpStatusCode.InternalServerError, statuses);
        foreach (var id in accepted)
        {
            var done = await Poll.UntilAsync(async () =>
            {
                using var response = await http.GetAsync(new Uri($"/jobs/{id}", UriKind.Relative));
                Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
                return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
            }, job => job?["status"]!.GetValue<string>() is "succeeded" or "failed", TimeSpan.FromSeconds(90), $"acknowledged job {id}");
            Assert.Equal("succeeded", done!["status"]!.GetValue<string>());
        }
    }
}
