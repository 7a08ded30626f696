using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Webhooks;

/// <summary>Completion webhooks end to end: HTTP enqueue, the job, its delivery job, a loopback receiver.</summary>
[Collection(WebhookCollection.Name)]
public sealed class WebhookDeliveryTests(WebhookFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FinishedJobPostsItsOutcomeSignedOverTheExactBodyBytes()
    {
        var id = $"wh-signed-{Guid.NewGuid():N}";
        var path = $"signed/{id}";
        using var enqueued = await SubmitAsync(new JsonObject
        {
            ["type"] = "test_webhook_result",
            ["id"] = id,
            ["payload"] = new JsonObject { ["value"] = "héllo" },
            ["callbackUrl"] = fixture.Receiver.Url(path).ToString(),
        });
        Assert.Equal(HttpStatusCode.Accepted, enqueued.StatusCode);
        Assert.Equal(fixture.Receiver.Url(path).ToString(), (await enqueued.Content.ReadFromJsonAsync<JsonObject>())!["callbackUrl"]!.GetValue<string>());

        var received = (await Poll.UntilAsync(() => Task.FromResult(fixture.Receiver.To(path)), r => r.Count > 0, Deadline, $"a POST to {path}")).Single();

        // Verified as a receiver would: HMAC-SHA256 of the bytes as received, keyed with the shared secret.
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookFixture.Secret), received.Body));
        Assert.Equal(expected, received.Signature);
        var tampered = received.Body.Append((byte)' ').ToArray();
        Assert.NotEqual(received.Signature, "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookFixture.Secret), tampered)));

        Assert.Equal($"{id}.webhook.1", received.Delivery);
        var sentAt = DateTimeOffset.FromUnixTimeSeconds(long.Parse(received.Timestamp!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(sentAt, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.StartsWith("application/json", received.ContentType, StringComparison.Ordinal);

        var body = JsonNode.Parse(received.Body)!.AsObject();
        Assert.Equal(id, body["id"]!.GetValue<string>());
        Assert.Equal("test_webhook_result", body["type"]!.GetValue<string>());
        Assert.Equal("succeeded", body["status"]!.GetValue<string>());
        Assert.Equal("héllo", body["result"]!["value"]!.GetValue<string>());
        Assert.Equal(5, body["result"]!["length"]!.GetValue<int>());
        Assert.Null(body["lastError"]);
        Assert.Equal(1, body["attempts"]!.GetValue<int>());
        Assert.Equal(1, body["round"]!.GetValue<int>());
        Assert.Equal($"{id}.webhook.1", body["deliveryId"]!.GetValue<string>());
        var job = await GetJobAsync(id);
        Assert.Equal(job["finishedAt"]!.GetValue<DateTime>(), body["finishedAt"]!.GetValue<DateTime>());
    }

    [Fact]
    public async Task DeliveryIsAJobOfItsOwnVisibleThroughTheApi()
    {
        var id = $"wh-visible-{Guid.NewGuid():N}";
        using var enqueued = await SubmitAsync(new JsonObject
        {
            ["type"] = "test_echo",
            ["id"] = id,
            ["payload"] = new JsonObject { ["value"] = "x" },
            ["callbackUrl"] = fixture.Receiver.Url($"visible/{id}").ToString(),
        });
        Assert.Equal(HttpStatusCode.Accepted, enqueued.StatusCode);

        // Wait for the POST before reading the delivery job: a GET of a job id that does not exist yet lets that
        // activation go, and an enqueue racing it sees its first attempt handed off (retried a second later).
        await Poll.UntilAsync(() => Task.FromResult(fixture.Receiver.To($"visible/{id}")), r => r.Count > 0, Deadline, "the POST");
        var delivery = await Poll.UntilAsync(() => GetJobOrNullAsync($"{id}.webhook.1"),
            j => j?["status"]!.GetValue<string>() == "succeeded", Deadline, "the delivery job over HTTP");
        Assert.Equal("orleanstasks.webhook", delivery!["type"]!.GetValue<string>());
        Assert.Equal(200, delivery["result"]!["statusCode"]!.GetValue<int>());
        Assert.Equal(id, delivery["payload"]!["sourceId"]!.GetValue<string>());
        Assert.Null(delivery["callbackUrl"]);
        Assert.Single(fixture.Receiver.To($"visible/{id}"));
    }

    [Fact]
    public async Task ReceiverAnswering500IsRetriedWithBackoffUntilItAccepts()
    {
        var id = $"wh-retry-{Guid.NewGuid():N}";
        var path = $"retry/{id}";
        fixture.Receiver.FailFirst[path] = 2;
        using var enqueued = await SubmitAsync(new JsonObject
        {
            ["type"] = "test_echo",
            ["id"] = id,
            ["payload"] = new JsonObject { ["value"] = "x" },
            ["callbackUrl"] = fixture.Receiver.Url(path).ToString(),
        });
        Assert.Equal(HttpStatusCode.Accepted, enqueued.StatusCode);

        // The receiver first: reading the delivery job before it exists would race its creation (see
        // DeliveryIsAJobOfItsOwnVisibleThroughTheApi).
        var received = await Poll.UntilAsync(() => Task.FromResult(fixture.Receiver.To(path)), r => r.Count >= 3, Deadline, $"three POSTs to {path}");
        var delivery = await Poll.UntilAsync(() => GetJobOrNullAsync($"{id}.webhook.1"),
            j => j?["status"]!.GetValue<string>() is "succeeded" or "failed", Deadline, "the delivery job over HTTP");
        Assert.Equal("succeeded", delivery!["status"]!.GetValue<string>());
        Assert.Equal(3, delivery["attempts"]!.GetValue<int>());
        var failed = delivery["history"]!.AsArray().Where(a => a!["outcome"]!.GetValue<string>() == "failed").ToList();
        Assert.Equal(2, failed.Count);
        Assert.All(failed, a => Assert.Contains("500", a!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.Equal(3, fixture.Receiver.To(path).Count);

        // Never early: each retry waits at least its backoff (1 s, then 2 s) after the failed answer.
        Assert.True(received[1].At - received[0].At >= WebhookFixture.MinBackoff, $"first retry after {received[1].At - received[0].At}");
        Assert.True(received[2].At - received[1].At >= 2 * WebhookFixture.MinBackoff, $"second retry after {received[2].At - received[1].At}");

        // Every retry is the same delivery: same id, same bytes, a valid signature.
        Assert.All(received, r => Assert.Equal($"{id}.webhook.1", r.Delivery));
        Assert.All(received, r => Assert.Equal(received[0].Body, r.Body));
        Assert.All(received, r => Assert.Equal(
            "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookFixture.Secret), r.Body)), r.Signature));
    }

    [Theory]
    [InlineData("http://example.com/hook", "Webhooks:AllowedHosts")]
    [InlineData("https://169.254.169.254/latest/meta-data", "Webhooks:AllowedHosts")]
    [InlineData("http://localhost/hook", "Webhooks:AllowedHosts")]
    [InlineData("ftp://127.0.0.1/hook", "http or https")]
    [InlineData("/relative/hook", "absolute")]
    [InlineData("http://user:secret@127.0.0.1/hook", "user information")]
    public async Task DisallowedCallbackUrlIsRefusedAtEnqueueWith400NamingCallbackUrl(string url, string reason)
    {
        var id = $"wh-refused-{Guid.NewGuid():N}";
        using var response = await SubmitAsync(new JsonObject
        {
            ["type"] = "test_echo",
            ["id"] = id,
            ["payload"] = new JsonObject { ["value"] = "x" },
            ["callbackUrl"] = url,
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains(reason, problem["errors"]!["callbackUrl"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(await GetJobOrNullAsync(id));
    }

    [Fact]
    public async Task JobTypeDefaultCallbackUrlIsUsedWhenTheEnqueueNamesNone()
    {
        var id = $"wh-default-{Guid.NewGuid():N}";
        using var enqueued = await SubmitAsync(new JsonObject
        {
            ["type"] = "test_webhook_default",
            ["id"] = id,
            ["payload"] = new JsonObject { ["value"] = "x" },
        });
        Assert.Equal(HttpStatusCode.Accepted, enqueued.StatusCode);
        Assert.Equal(fixture.Receiver.Url(WebhookFixture.DefaultPath).ToString(),
            (await enqueued.Content.ReadFromJsonAsync<JsonObject>())!["callbackUrl"]!.GetValue<string>());

        var received = await Poll.UntilAsync(
            () => Task.FromResult(fixture.Receiver.To(WebhookFixture.DefaultPath).Where(r => JsonNode.Parse(r.Body)!["id"]!.GetValue<string>() == id).ToList()),
            r => r.Count > 0, Deadline, "the type's default callback");
        Assert.Equal($"{id}.webhook.1", Assert.Single(received).Delivery);
    }

    [Fact]
    public async Task FailedJobIsDeliveredWithItsLastErrorAndNoResult()
    {
        var id = $"wh-failed-{Guid.NewGuid():N}";
        var path = $"failed/{id}";
        using var enqueued = await SubmitAsync(new JsonObject
        {
            ["type"] = "test_permanent",
            ["id"] = id,
            ["payload"] = new JsonObject { ["reason"] = "bad data" },
            ["callbackUrl"] = fixture.Receiver.Url(path).ToString(),
        });
        Assert.Equal(HttpStatusCode.Accepted, enqueued.StatusCode);

        var received = await Poll.UntilAsync(() => Task.FromResult(fixture.Receiver.To(path)), r => r.Count > 0, Deadline, $"a POST to {path}");
        var body = JsonNode.Parse(received[0].Body)!.AsObject();
        Assert.Equal("failed", body["status"]!.GetValue<string>());
        Assert.Null(body["result"]);
        Assert.Contains("bad data", body["lastError"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequeuedJobIsDeliveredAgainForItsNewRound()
    {
        var id = $"wh-round-{Guid.NewGuid():N}";
        var path = $"round/{id}";
        using var enqueued = await SubmitAsync(new JsonObject
        {
            ["type"] = "test_echo",
            ["id"] = id,
            ["payload"] = new JsonObject { ["value"] = "x" },
            ["callbackUrl"] = fixture.Receiver.Url(path).ToString(),
        });
        Assert.Equal(HttpStatusCode.Accepted, enqueued.StatusCode);
        await Poll.UntilAsync(() => Task.FromResult(fixture.Receiver.To(path)), r => r.Count == 1, Deadline, "round 1's delivery");

        using var requeued = await fixture.Http.PostAsync(new Uri($"/jobs/{id}/requeue", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Accepted, requeued.StatusCode);

        var received = await Poll.UntilAsync(() => Task.FromResult(fixture.Receiver.To(path)), r => r.Count == 2, Deadline, "round 2's delivery");
        Assert.Equal([$"{id}.webhook.1", $"{id}.webhook.2"], received.Select(r => r.Delivery));
        Assert.Equal(2, JsonNode.Parse(received[1].Body)!["round"]!.GetValue<int>());
    }

    [Fact]
    public async Task DeliveryJobTypeCannotBeEnqueuedThroughTheApi()
    {
        using var response = await SubmitAsync(new JsonObject
        {
            ["type"] = "orleanstasks.webhook",
            ["payload"] = new JsonObject
            {
                ["sourceId"] = "forged",
                ["round"] = 1,
                ["url"] = fixture.Receiver.Url("forged").ToString(),
                ["body"] = "{\"status\":\"succeeded\"}",
            },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains("engine's own type", problem["errors"]!["type"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(fixture.Receiver.To("forged"));
    }

    private Task<HttpResponseMessage> SubmitAsync(JsonObject body) =>
        fixture.Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json(body.ToJsonString()));

    private async Task<JsonObject> GetJobAsync(string id) =>
        await GetJobOrNullAsync(id) ?? throw new InvalidOperationException($"No job {id}.");

    private async Task<JsonObject?> GetJobOrNullAsync(string id)
    {
        using var response = await fixture.Http.GetAsync(new Uri($"/jobs/{id}", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonObject>();
    }
}
