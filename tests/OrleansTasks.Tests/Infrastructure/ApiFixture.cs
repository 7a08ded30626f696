using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>
/// The real API hosted in-process (WebApplicationFactory), an Orleans client of one real silo, both on a real
/// redis-server: what the tests see over HTTP is what a user sees.
/// </summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;
    public ClusterIdentity Identity { get; } = ClusterIdentity.New();
    public RedisSilo Silo { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        Silo = await RedisSilo.StartAsync(Redis, Identity);
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => WithTestKey(web
            .UseSetting("ConnectionStrings:Redis", Redis.ConnectionString)
            .UseSetting("Orleans:ClusterId", Identity.ClusterId)
            .UseSetting("Orleans:ServiceId", Identity.ServiceId)));
        Http = WithTestKey(Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false }));
    }

    /// <summary>
    /// A key with every scope. In-process requests have no remote address, so they are not loopback: every
    /// in-process API host of the tests configures this key and its clients send it.
    /// </summary>
    public const string TestKey = "orleanstasks-tests-key-with-every-scope";

    /// <summary>Configures <see cref="TestKey"/> (read, write, admin) as the host's only key.</summary>
    public static IWebHostBuilder WithTestKey(IWebHostBuilder web)
    {
        ArgumentNullException.ThrowIfNull(web);
        return web
            .UseSetting("Api:Keys:0:Name", "tests")
            .UseSetting("Api:Keys:0:Sha256", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(TestKey))))
            .UseSetting("Api:Keys:0:Scopes:0", "read")
            .UseSetting("Api:Keys:0:Scopes:1", "write")
            .UseSetting("Api:Keys:0:Scopes:2", "admin");
    }

    /// <summary>
    /// Makes <paramref name="http"/> send <see cref="TestKey"/>, as <c>X-Api-Key</c>: a custom header survives the
    /// redirects some tests follow, where an Authorization header would be dropped.
    /// </summary>
    public static HttpClient WithTestKey(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        http.DefaultRequestHeaders.Add("X-Api-Key", TestKey);
        return http;
    }

    /// <summary>The API's own typed job client (the Orleans client inside the hosted API).</summary>
    public Jobs.JobClient Jobs() => Factory.Services.GetRequiredService<Jobs.JobClient>();

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Factory.DisposeAsync();
        await Silo.DisposeAsync();
        await Redis.DisposeAsync();
    }

    /// <summary>Every job-state key of this cluster in Redis.</summary>
    public async Task<string[]> StateKeysAsync()
    {
        var keys = new List<string>();
        await foreach (var key in Redis.Connection.GetServers().Single().KeysAsync(pattern: $"{{{Identity.ServiceId}/jobs/*}}/job/*"))
        {
            keys.Add(key.ToString());
        }

        return [.. keys.Order(StringComparer.Ordinal)];
    }

    public async Task<JsonObject> GetJobAsync(string id)
    {
        using var response = await Http.GetAsync(new Uri($"/jobs/{id}", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    /// <summary>Polls <c>GET /jobs/{id}</c> until the job is terminal.</summary>
    public Task<JsonObject> WaitForTerminalAsync(string id, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => GetJobAsync(id), j => j["status"]!.GetValue<string>() is "succeeded" or "failed" or "cancelled",
            timeout ?? TimeSpan.FromSeconds(60), $"job {id} over HTTP");

    public static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}
