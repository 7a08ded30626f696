using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Webhooks;
using OrleansTasks.Webhooks;

namespace OrleansTasks.Tests.Unit;

/// <summary>The webhook SSRF guard, signature, delivery ids and bodies, and where the delivery sits among a finished job's effects.</summary>
public sealed class WebhookGuardTests
{
    private const string Secret = "unit-secret";

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.0.9")]
    [InlineData("0.0.0.0")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.254")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("169.254.10.1")]
    [InlineData("100.64.0.1")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fc00::1")]
    [InlineData("fd00:ec2::254")]
    [InlineData("fe80::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    public void LoopbackPrivateLinkLocalAndMetadataAddressesAreRefused(string address) =>
        Assert.True(WebhookAddressPolicy.IsRefused(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("172.32.0.1")]
    [InlineData("192.169.0.1")]
    [InlineData("11.0.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    public void PublicAddressesAreAllowed(string address) =>
        Assert.False(WebhookAddressPolicy.IsRefused(IPAddress.Parse(address)));

    [Theory]
    [InlineData("https://hooks.example.com/done", null)]
    [InlineData("http://hooks.example.com:8080/done?x=1", null)]
    [InlineData("http://127.0.0.1:9000/done", "127.0.0.1")]
    [InlineData("http://[::1]/done", "::1")]
    [InlineData("http://169.254.169.254/latest/meta-data", "169.254.169.254")]
    [InlineData("http://[fd00:ec2::254]/", "fd00:ec2::254")]
    [InlineData("http://localhost:8080/done", "'localhost'")]
    [InlineData("http://api.localhost/done", "'api.localhost'")]
    [InlineData("ftp://hooks.example.com/done", "http or https")]
    [InlineData("file:///etc/passwd", "absolute http or https")]
    [InlineData("hooks.example.com/done", "absolute")]
    public void WithoutAnAllowListAnyPublicHostIsAcceptedAtEnqueue(string url, string? refusal)
    {
        var problem = Policy(allowedHosts: null).CheckAtEnqueue(url);
        if (refusal is null)
        {
            Assert.Null(problem);
        }
        else
        {
            Assert.NotNull(problem);
            Assert.Contains(refusal, problem, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("https://hooks.example.com/done", true)]
    [InlineData("https://HOOKS.Example.com./done", true)]
    [InlineData("http://127.0.0.1:9000/done", true)]
    [InlineData("http://[::1]:9000/done", true)]
    [InlineData("https://other.example.com/done", false)]
    [InlineData("http://localhost/done", false)]
    [InlineData("http://10.0.0.1/done", false)]
    public void WithAnAllowListOnlyListedHostsAreAcceptedAndListedOnesMayBeLoopback(string url, bool accepted)
    {
        var problem = Policy("hooks.example.com, 127.0.0.1;[::1]").CheckAtEnqueue(url);
        Assert.Equal(accepted, problem is null);
        if (!accepted)
        {
            Assert.Contains("Webhooks:AllowedHosts", problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CallbackIsRefusedAtEnqueueWhileNoSecretIsSetSayingHowToSetIt()
    {
        var problem = new WebhookAddressPolicy(new WebhookOptions()).CheckAtEnqueue("https://hooks.example.com/done");
        Assert.NotNull(problem);
        Assert.Contains("Webhooks__Secret", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void SignatureIsTheHexHmacSha256OfTheBodyBytes()
    {
        // RFC 4231-style known answer: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        var body = "The quick brown fox jumps over the lazy dog"u8;
        Assert.Equal("sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", WebhookSigner.Sign("key", body));
        Assert.True(WebhookSigner.Verify("key", body, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"));
        Assert.False(WebhookSigner.Verify("key", "The quick brown fox jumps over the lazy dog."u8, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"));
    }

    [Fact]
    public void DeliveryIdsAreDerivedFromTheJobAndRoundAndAreAlwaysValidJobIds()
    {
        Assert.Equal("order-17.webhook.1", WebhookDeliveries.DeliveryId("order-17", 1));
        Assert.Equal("order-17.webhook.12", WebhookDeliveries.DeliveryId("order-17", 12));

        var longA = new string('a', JobId.MaxLength);
        var longB = new string('a', JobId.MaxLength - 1) + "b";
        var idA = WebhookDeliveries.DeliveryId(longA, 3);
        var idB = WebhookDeliveries.DeliveryId(longB, 3);
        Assert.Null(JobId.Validate(idA));
        Assert.Null(JobId.Validate(idB));
        Assert.EndsWith(".webhook.3", idA, StringComparison.Ordinal);
        Assert.NotEqual(idA, idB);
    }

    [Fact]
    public void BodyCarriesTheResultAsJsonAndIsTheSameBytesEveryTime()
    {
        var state = Finished("https://hooks.example.com/done") with
        {
            ResultJson = "{\"rows\":3}",
            LastError = new JobError("TimeoutException", "slow"),
            Attempts = 2,
        };
        var body = WebhookDeliveries.Body("job-1", state, "job-1.webhook.1");
        Assert.Equal(body, WebhookDeliveries.Body("job-1", state, "job-1.webhook.1"));

        var json = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(["id", "type", "status", "result", "lastError", "attempts", "finishedAt", "round", "deliveryId"], json.Select(p => p.Key));
        Assert.Equal(3, json["result"]!["rows"]!.GetValue<int>());
        Assert.Equal("TimeoutException", json["lastError"]!["type"]!.GetValue<string>());
        Assert.Equal("succeeded", json["status"]!.GetValue<string>());
        Assert.Equal(2, json["attempts"]!.GetValue<int>());
    }

    [Fact]
    public void FinishedJobWithACallbackEnqueuesItsDeliveryAfterTheWriteAndBeforeTheWakeUpIsCleared()
    {
        var now = DateTimeOffset.UtcNow;
        var running = new JobState
        {
            Type = "t",
            PayloadJson = "{}",
            Status = JobStatus.Running,
            Attempts = 1,
            History = [new JobAttempt(1, now, null, AttemptOutcome.Running, null, "silo")],
            CallbackUrl = "https://hooks.example.com/done",
        };
        var finished = Machine.Apply(running, new JobEvent.AttemptFinished(now, new AttemptResult(AttemptOutcome.Succeeded, "1", null, false), 0), TimeSpan.FromSeconds(15));
        Assert.Equal("write, callback, deactivate", Describe(finished));

        // A crash after the write leaves the wake-up: its tick on the finished job enqueues the delivery again.
        var tick = Machine.Apply(finished.Next, new JobEvent.WakeUp(now), TimeSpan.FromSeconds(15));
        Assert.Equal("callback, deactivate", Describe(tick));

        var cancelled = Machine.Apply(running with { Status = JobStatus.Queued, History = [] }, new JobEvent.CancelRequested(now), TimeSpan.FromSeconds(15));
        Assert.Equal("write, callback, deactivate", Describe(cancelled));

        var withoutCallback = Machine.Apply(running with { CallbackUrl = null }, new JobEvent.AttemptFinished(now, new AttemptResult(AttemptOutcome.Succeeded, "1", null, false), 0), TimeSpan.FromSeconds(15));
        Assert.Equal("write, clear, deactivate", Describe(withoutCallback));
    }

    [Fact]
    public async Task HostNameResolvingToLoopbackIsRefusedAtConnectTimeUnlessListed()
    {
        await using var receiver = WebhookReceiver.Start();

        // "localhost" is refused by name at enqueue; the delivery path checks what it resolves to when it connects.
        var url = $"http://localhost:{receiver.Port}/connect-guard";
        var delivery = new WebhookDelivery("job-1", 1, url, "{}");
        var context = new JobContext("job-1.webhook.1", WebhookDelivery.TypeName, 1, 3);

        using (var unlisted = Sender(allowedHosts: null))
        {
            var refused = await Assert.ThrowsAsync<PermanentJobFailureException>(
                () => new WebhookDeliveryHandler(unlisted).HandleAsync(delivery, context, CancellationToken.None));
            Assert.Contains("resolves to", refused.Message, StringComparison.Ordinal);
            Assert.Empty(receiver.All);
        }

        // The same delivery goes through once the host is listed: the refusal above was the guard, not a dead port.
        using var listed = Sender(allowedHosts: "localhost");
        var result = await new WebhookDeliveryHandler(listed).HandleAsync(delivery, context, CancellationToken.None);
        Assert.Equal(200, result.StatusCode);
        Assert.Single(receiver.To("connect-guard"));
    }

    [Theory]
    [InlineData(410, true)]
    [InlineData(404, false)]
    [InlineData(401, false)]
    [InlineData(429, false)]
    [InlineData(500, false)]
    [InlineData(503, false)]
    [InlineData(301, false)]
    public async Task ReceiverAnswering410FailsTheDeliveryAtOnceAndOtherFailuresAreRetried(int status, bool permanent)
    {
        await using var receiver = WebhookReceiver.Start();
        receiver.Answer["status"] = status;
        using var sender = Sender(allowedHosts: "127.0.0.1");
        var context = new JobContext("job-1.webhook.1", WebhookDelivery.TypeName, 1, 3);

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => new WebhookDeliveryHandler(sender)
            .HandleAsync(new WebhookDelivery("job-1", 1, receiver.Url("status").ToString(), "{}"), context, CancellationToken.None));
        Assert.Equal(permanent, failure is PermanentJobFailureException);
        Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), failure.Message, StringComparison.Ordinal);
        Assert.Single(receiver.To("status"));
    }

    private static WebhookAddressPolicy Policy(string? allowedHosts) =>
        new(WithHosts(new WebhookOptions { Secret = Secret }, allowedHosts));

    private static WebhookSender Sender(string? allowedHosts) =>
        new(Options.Create(WithHosts(new WebhookOptions { Secret = Secret, Timeout = TimeSpan.FromSeconds(5) }, allowedHosts)), TimeProvider.System);

    /// <summary><paramref name="allowedHosts"/> as one entry, as the comma form binds; none when null.</summary>
    private static WebhookOptions WithHosts(WebhookOptions options, string? allowedHosts)
    {
        if (allowedHosts is not null)
        {
            options.AllowedHosts.Add(allowedHosts);
        }

        return options;
    }

    private static JobState Finished(string callbackUrl) => new()
    {
        Type = "t",
        PayloadJson = "{}",
        Status = JobStatus.Succeeded,
        Attempts = 1,
        FinishedAt = DateTimeOffset.UtcNow,
        CallbackUrl = callbackUrl,
    };

    private static string Describe(JobTransition t) => string.Join(", ", t.Effects.Select(e => e switch
    {
        _ when e == JobEffect.WriteState => "write",
        JobEffect.DeliverCallback { KeepWakeUpIn.TotalSeconds: 15 } => "callback",
        _ when e == JobEffect.ClearWakeUp => "clear",
        _ when e == JobEffect.Deactivate => "deactivate",
        _ => e.ToString(),
    }));
}
