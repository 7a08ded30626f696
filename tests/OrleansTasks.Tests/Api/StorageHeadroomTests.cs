using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>Above Jobs:RedisMemoryHighWatermark (90 % of maxmemory) new jobs get 503 saying why; accepted jobs go on.</summary>
[Collection(ApiCollection.Name)]
public sealed class StorageHeadroomTests(ApiFixture api)
{
    private async Task<long> UsedMemoryAsync()
    {
        var info = (await api.Redis.Connection.GetServers().Single().InfoAsync("memory")).SelectMany(g => g);
        return long.Parse(info.Single(p => p.Key == "used_memory").Value, CultureInfo.InvariantCulture);
    }

    private Task SetMaxMemoryAsync(long bytes) =>
        api.Redis.Connection.GetServers().Single().ExecuteAsync("CONFIG", "SET", "maxmemory", bytes.ToString(CultureInfo.InvariantCulture));

    private async Task<HttpResponseMessage> PostAsync(string id) =>
        await api.Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json($$$"""{"type":"test_echo","id":"{{{id}}}","payload":{"value":"x"}}"""));

    [Fact]
    public async Task AboveTheWatermarkNewJobsGet503SayingWhyAndNothingIsStoredThenTheyAreAcceptedAgain()
    {
        var accepted = $"headroom-before-{Guid.NewGuid():N}";
        using (var before = await PostAsync(accepted))
        {
            Assert.Equal(HttpStatusCode.Accepted, before.StatusCode);
        }

        try
        {
            // Used memory at about 93 % of maxmemory: above the 90 % watermark, with room left for writes.
            await SetMaxMemoryAsync((long)(await UsedMemoryAsync() * 1.08));
            // A fresh id each time: the monitor reads Redis once a second, and a job created before it did is simply accepted.
            var (refusedId, status, retryAfter, problem) = await Poll.UntilAsync(async () =>
            {
                var id = $"headroom-refused-{Guid.NewGuid():N}";
                using var response = await PostAsync(id);
                return (id, response.StatusCode, response.Headers.RetryAfter, await response.Content.ReadFromJsonAsync<JsonObject>());
            }, r => r.StatusCode == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30), "enqueues to be refused above the watermark");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.NotNull(retryAfter);
            var detail = problem!["detail"]!.GetValue<string>();
            Assert.Contains("Jobs:RedisMemoryHighWatermark", detail, StringComparison.Ordinal);
            Assert.Contains("maxmemory", detail, StringComparison.Ordinal);
            Assert.DoesNotContain(await api.StateKeysAsync(), k => k.Contains(refusedId, StringComparison.Ordinal));

            // A job accepted before still finishes, and asking for it is not refused.
            Assert.Equal("succeeded", (await api.WaitForTerminalAsync(accepted))["status"]!.GetValue<string>());
        }
        finally
        {
            await SetMaxMemoryAsync(0);
        }

        var afterwards = $"headroom-after-{Guid.NewGuid():N}";
        var again = await Poll.UntilAsync(async () =>
        {
            using var response = await PostAsync(afterwards);
            return response.StatusCode;
        }, s => s == HttpStatusCode.Accepted, TimeSpan.FromSeconds(30), "enqueues to be accepted below the watermark");
        Assert.Equal(HttpStatusCode.Accepted, again);
    }
}
