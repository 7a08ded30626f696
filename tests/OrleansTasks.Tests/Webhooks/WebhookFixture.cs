using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansTasks.Examples;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Webhooks;

/// <summary>Returns an object, so a delivery can show the result travels as JSON rather than as a string.</summary>
[JobType("test_webhook_result")]
public sealed record WebhookResult(string Value);

/// <summary>A type whose registration names a default callback URL.</summary>
[JobType("test_webhook_default")]
public sealed record WebhookDefault(string Value);

public sealed record WebhookResultValue(string Value, int Length);

public sealed class WebhookResultHandler : IJobHandler<WebhookResult, WebhookResultValue>
{
    public Task<WebhookResultValue> HandleAsync(WebhookResult payload, JobContext context, CancellationToken cancellationToken) =>
        Task.FromResult(new WebhookResultValue(payload.Value, payload.Value.Length));
}

public sealed class WebhookDefaultHandler : IJobHandler<WebhookDefault, string>
{
    public Task<string> HandleAsync(WebhookDefault payload, JobContext context, CancellationToken cancellationToken) =>
        Task.FromResult(payload.Value);
}

/// <summary>
/// A loopback webhook receiver, then a real silo on a real redis-server with webhooks configured (the receiver's
/// address listed, since loopback is refused by default; a short backoff), then the real API in-process.
/// </summary>
public sealed class WebhookFixture : IAsyncLifetime
{
    public const string Secret = "test-webhook-secret-0123456789";

    /// <summary>Backoff before a delivery's first retry; the second waits twice as long.</summary>
    public static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(1);

    public const string DefaultPath = "type-default";

    public WebhookReceiver Receiver { get; private set; } = null!;
    public RedisServer Redis { get; private set; } = null!;
    public RedisSilo Silo { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Receiver = WebhookReceiver.Start();
        Redis = await RedisServer.StartAsync();
        var identity = ClusterIdentity.New();
        Silo = await RedisSilo.StartAsync(Redis, identity,
            overrides: new Dictionary<string, string?>
            {
                ["Webhooks:Secret"] = Secret,
                ["Webhooks:AllowedHosts"] = "127.0.0.1",
                ["Webhooks:MinBackoff"] = "00:00:01",
                ["Webhooks:MaxBackoff"] = "00:00:02",
                ["Webhooks:MaxRetries"] = "3",
                ["Webhooks:Timeout"] = "00:00:05",
            },
            jobs: all => all.AddExampleJobs().AddTestJobs()
                .Add<WebhookResultHandler>()
                .Add<WebhookDefaultHandler>(o => o.CallbackUrl = Receiver.Url(DefaultPath).ToString()));
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => ApiFixture.WithTestKey(web
            .UseSetting("ConnectionStrings:Redis", Redis.ConnectionString)
            .UseSetting("Orleans:ClusterId", identity.ClusterId)
            .UseSetting("Orleans:ServiceId", identity.ServiceId)));
        Http = ApiFixture.WithTestKey(Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false }));
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Factory.DisposeAsync();
        await Silo.DisposeAsync();
        await Redis.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class WebhookCollection : ICollectionFixture<WebhookFixture>
{
    public const string Name = "webhooks";
}
