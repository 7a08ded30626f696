using System.Net.Http.Json;
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
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:Redis", Redis.ConnectionString)
            .UseSetting("Orleans:ClusterId", Identity.ClusterId)
            .UseSetting("Orleans:ServiceId", Identity.ServiceId));
        Http = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
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
