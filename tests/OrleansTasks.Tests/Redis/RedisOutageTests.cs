using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// Redis shut down, or hung (SIGSTOP: connections open, no answers), under a silo and the API running as its own
/// process (so it can load only what it ships with): every request answers 503 problem details within seconds,
/// never a 500, and once Redis is back the API serves again with no acknowledged job lost.
/// </summary>
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    // Well under Orleans' 30 s ResponseTimeout, which is what a hung Redis must not run into; generous for 2 busy cores.
    private static readonly TimeSpan AnswerBound = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData("stopped")]
    [InlineData("hung")]
    public async Task WhileRedisIsStoppedOrHungTheApiAnswers503WithinSecondsAndAfterwardsLosesNoAcknowledgedJob(string outage)
    {
        await using var redis = await RedisServer.StartAsync("--appendonly", "yes", "--appendfsync", "always");
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis, identity);
        await using var api = await ApiProcess.StartAsync(redis, identity);
        var accepted = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            accepted.Add(await SubmitAcceptedAsync(api, """{"type":"test_echo","payload":{"value":"before"}}"""));
        }

        foreach (var id in accepted)
        {
            await TerminalAsync(api, id);
        }

        // Acknowledged before the outage, due during or after it: its wake-up must survive.
        accepted.Add(await SubmitAcceptedAsync(api, """{"type":"test_echo","payload":{"value":"delayed"},"delay":"PT10S"}"""));

        try
        {
            if (outage == "hung")
            {
                redis.Pause();
            }
            else
            {
                await redis.ShutdownAsync();
            }

            for (var i = 0; i < 3; i++)
            {
                await AssertOutageAsync(api, HttpMethod.Post, "/jobs",
                    $$"""{"type":"test_echo","payload":{"value":"during"},"id":"outage-{{Guid.NewGuid():N}}"}""");
            }

            // A job this API never saw: its grain must read Redis to answer.
            await AssertOutageAsync(api, HttpMethod.Get, $"/jobs/outage-{Guid.NewGuid():N}", body: null);

            // A job acknowledged before: answered from a live activation (200) or, if it must be read, 503; never 500.
            using var known = await api.Http.GetAsync(new Uri($"/jobs/{accepted[0]}", UriKind.Relative));
            Assert.True(known.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable,
                $"GET of an acknowledged job answered {(int)known.StatusCode} during the outage:\n{api.Tail()}");
        }
        finally
        {
            if (outage == "hung")
            {
                redis.Resume();
            }
            else
            {
                await redis.StartAgainAsync();
            }
        }

        var back = await Poll.UntilAsync(async () =>
        {
            using var response = await api.Http.PostAsync(new Uri("/jobs", UriKind.Relative),
                ApiFixture.Json("""{"type":"test_echo","payload":{"value":"after"}}"""));
            Assert.True(response.StatusCode != HttpStatusCode.InternalServerError, $"500 after Redis came back:\n{api.Tail()}");
            return response.StatusCode == HttpStatusCode.Accepted ? (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>() : null;
        }, id => id is not null, TimeSpan.FromSeconds(60), "a submission to succeed after Redis is back");
        accepted.Add(back!);

        foreach (var id in accepted)
        {
            Assert.Equal("succeeded", (await TerminalAsync(api, id))["status"]!.GetValue<string>());
        }
    }

    private async Task AssertOutageAsync(ApiProcess api, HttpMethod method, string route, string? body)
    {
        using var request = new HttpRequestMessage(method, new Uri(route, UriKind.Relative)) { Content = body is null ? null : ApiFixture.Json(body) };
        var clock = Stopwatch.StartNew();
        using var response = await api.Http.SendAsync(request);
        var elapsed = clock.Elapsed;
        var text = await response.Content.ReadAsStringAsync();
        output.WriteLine($"{method} {route}: {(int)response.StatusCode} after {elapsed.TotalSeconds:F1} s");

        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable,
            $"{method} {route}: expected 503, got {(int)response.StatusCode} after {elapsed.TotalSeconds:F1} s: {text}\nAPI log:\n{api.Tail()}");
        Assert.True(elapsed < AnswerBound, $"{method} {route} took {elapsed.TotalSeconds:F1} s");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(503, problem["status"]!.GetValue<int>());
        Assert.DoesNotContain("Redis", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static async Task<string> SubmitAcceptedAsync(ApiProcess api, string body)
    {
        using var response = await api.Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json(body));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
    }

    private static Task<JsonObject> TerminalAsync(ApiProcess api, string id) =>
        Poll.UntilAsync(async () =>
        {
            using var response = await api.Http.GetAsync(new Uri($"/jobs/{id}", UriKind.Relative));
            Assert.True(response.StatusCode != HttpStatusCode.InternalServerError, $"GET /jobs/{id} answered 500:\n{api.Tail()}");
            return response.StatusCode == HttpStatusCode.OK ? (await response.Content.ReadFromJsonAsync<JsonObject>())! : new JsonObject();
        }, job => job["status"]?.GetValue<string>() is "succeeded" or "failed", TimeSpan.FromSeconds(90), $"acknowledged job {id}");
}
