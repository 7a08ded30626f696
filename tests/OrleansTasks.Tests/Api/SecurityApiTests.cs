using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>
/// Issue 11's API contract over HTTP: keys and scopes per route, the loopback-only default, enqueue answers for
/// callers without read, rate limits and the key-making command. Each test hosts the real API in-process against
/// the shared silo, with the keys it needs.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class SecurityApiTests(ApiFixture api)
{
    private const string ReadKey = "sec-test-read-key";
    private const string WriteKey = "sec-test-write-key";
    private const string AdminKey = "sec-test-admin-key";
    private const string UnknownKey = "sec-test-key-nobody-configured";

    /// <summary>A test-only header the hosts below turn into the connection's remote address ("none": no address).</summary>
    private const string RemoteAddressHeader = "X-Test-Remote-Address";

    private enum Caller
    {
        NoKey,
        UnknownKey,
        Read,
        Write,
        Admin,
    }

    private sealed record Route(HttpMethod Method, string Path, string? Body, string? Scope, params int[] Allowed);

    [Fact]
    public async Task EveryRouteAnswersEachKeyByItsScopeAndAnonymousCallersGet401WithWwwAuthenticate()
    {
        await using var factory = api.Factory.WithWebHostBuilder(web => Keys(web,
            (1, "reader", ReadKey, ["read"]), (2, "writer", WriteKey, ["write"]), (3, "administrator", AdminKey, ["admin"])));
        using var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var jobId = $"sec-table-{Guid.NewGuid():N}";
        using (var created = await SendAsync(http, HttpMethod.Post, "/jobs", ApiFixture.TestKey, $$$"""{"type":"test_echo","id":"{{{jobId}}}","payload":{"value":"x"}}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        }

        var none = $"sec-none-{Guid.NewGuid():N}";
        Route[] routes =
        [
            new(HttpMethod.Get, "/jobs?idPrefix=sec-", null, "read", 200),
            new(HttpMethod.Get, "/jobs/counts", null, "read", 200),
            new(HttpMethod.Get, $"/jobs/{jobId}", null, "read", 200),
            new(HttpMethod.Get, "/job-types", null, "read", 200),
            new(HttpMethod.Get, $"/jobs/bulk/{none}", null, "read", 404),
            new(HttpMethod.Get, "/schedules", null, "read", 200),
            new(HttpMethod.Get, $"/schedules/{none}", null, "read", 404),
            new(HttpMethod.Get, "/openapi/v1.json", null, "read", 200),
            new(HttpMethod.Get, "/docs", null, "read", 200, 301, 302, 307, 308),
            new(HttpMethod.Post, "/jobs", """{"type":"test_echo","payload":{"value":"table"}}""", "write", 202),

            // Invalid bodies: the seed's handlers answer 400 only once authorization has let the request through.
            new(HttpMethod.Post, "/signup", """{"email":"not-an-address"}""", "write", 400),
            new(HttpMethod.Post, "/create_report", "{}", "write", 400),
            new(HttpMethod.Post, "/process_image", "{}", "write", 400),
            new(HttpMethod.Post, $"/jobs/{none}/cancel", null, "admin", 404),
            new(HttpMethod.Post, $"/jobs/{none}/requeue", null, "admin", 404),
            new(HttpMethod.Delete, $"/jobs/{none}", null, "admin", 404),
            new(HttpMethod.Post, "/jobs/bulk", $$"""{"action":"cancel","filter":{"idPrefix":"{{none}}"},"dryRun":true}""", "admin", 200),
            new(HttpMethod.Put, $"/schedules/{none}", """{"type":"test_echo"}""", "admin", 400),
            new(HttpMethod.Delete, $"/schedules/{none}", null, "admin", 404),
            new(HttpMethod.Post, $"/schedules/{none}/pause", null, "admin", 404),
            new(HttpMethod.Post, $"/schedules/{none}/resume", null, "admin", 404),
            new(HttpMethod.Post, $"/schedules/{none}/trigger", null, "admin", 404),
            new(HttpMethod.Post, $"/schedules/{none}/backfill", """{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z"}""", "admin", 400, 404),
            new(HttpMethod.Get, "/health/live", null, null, 200),
            new(HttpMethod.Get, "/health/ready", null, null, 200),
        ];

        var mismatches = new List<string>();
        foreach (var route in routes)
        {
            foreach (var caller in Enum.GetValues<Caller>())
            {
                var key = caller switch
                {
                    Caller.UnknownKey => UnknownKey,
                    Caller.Read => ReadKey,
                    Caller.Write => WriteKey,
                    Caller.Admin => AdminKey,
                    _ => null,
                };

                // Both ways of sending a key, alternately.
                using var response = await SendAsync(http, route.Method, route.Path, key, route.Body, bearer: route.Path.Length % 2 == 0);
                var status = (int)response.StatusCode;
                var expected = Expected(route, caller);
                if (!expected.Contains(status))
                {
                    mismatches.Add($"{route.Method} {route.Path} as {caller}: {status}, expected {string.Join(" or ", expected)}");
                    continue;
                }

                if (status is 401 or 403)
                {
                    if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                    {
                        mismatches.Add($"{route.Method} {route.Path} as {caller}: {status} is not a problem");
                    }

                    if (status == 401 && !response.Headers.WwwAuthenticate.Any(h => h.Scheme == "Bearer"))
                    {
                        mismatches.Add($"{route.Method} {route.Path} as {caller}: 401 without WWW-Authenticate: Bearer");
                    }
                }
            }
        }

        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));
    }

    private static int[] Expected(Route route, Caller caller) => (route.Scope, caller) switch
    {
        (null, _) => route.Allowed,
        (_, Caller.NoKey or Caller.UnknownKey) => [401],
        (_, Caller.Admin) => route.Allowed,
        ("read", Caller.Read) or ("write", Caller.Write) => route.Allowed,
        _ => [403],
    };

    [Fact]
    public async Task ACallerWithoutReadGetsOnlyIdAndStatusFromEnqueueAnswers()
    {
        await using var factory = api.Factory.WithWebHostBuilder(web => Keys(web, (1, "writer", WriteKey, ["write"])));
        using var http = factory.CreateClient();
        var id = $"sec-receipt-{Guid.NewGuid():N}";
        var body = $$$"""{"type":"test_echo","id":"{{{id}}}","payload":{"value":"private@example.com"}}""";

        using (var created = await SendAsync(http, HttpMethod.Post, "/jobs", WriteKey, body))
        {
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            Assert.Equal($"/jobs/{id}", created.Headers.Location!.OriginalString);
            var receipt = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal(["id", "status"], receipt.Select(p => p.Key).Order(StringComparer.Ordinal));
            Assert.Equal(id, receipt["id"]!.GetValue<string>());
        }

        // The same id again: the "existing" answer, which would otherwise show the job's payload and result.
        await api.WaitForTerminalAsync(id);
        using (var existing = await SendAsync(http, HttpMethod.Post, "/jobs", WriteKey, body))
        {
            Assert.Equal(HttpStatusCode.OK, existing.StatusCode);
            var text = await existing.Content.ReadAsStringAsync();
            Assert.DoesNotContain("private@example.com", text, StringComparison.Ordinal);
            var receipt = JsonNode.Parse(text)!.AsObject();
            Assert.Equal(["id", "status"], receipt.Select(p => p.Key).Order(StringComparer.Ordinal));
            Assert.Equal("succeeded", receipt["status"]!.GetValue<string>());
        }

        // A key with read as well gets the whole job.
        using (var full = await SendAsync(http, HttpMethod.Post, "/jobs", ApiFixture.TestKey, body))
        {
            Assert.Equal(HttpStatusCode.OK, full.StatusCode);
            Assert.Equal("private@example.com", (await full.Content.ReadFromJsonAsync<JsonObject>())!["payload"]!["value"]!.GetValue<string>());
        }

        // The seed's answers carry a sentence and the id, never job data.
        using var signup = await SendAsync(http, HttpMethod.Post, "/signup", WriteKey, """{"email":"someone@example.com"}""");
        Assert.Equal(HttpStatusCode.Accepted, signup.StatusCode);
        Assert.Equal(["jobId", "message"], (await signup.Content.ReadFromJsonAsync<JsonObject>())!.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task WithNoKeyConfiguredOnlyDirectLoopbackCallersAreServed()
    {
        await using var factory = UnkeyedApi();
        using var http = factory.CreateClient();
        (string RemoteAddress, string? ProxyHeader, HttpStatusCode Expected)[] cases =
        [
            ("127.0.0.1", null, HttpStatusCode.OK),
            ("::1", null, HttpStatusCode.OK),
            ("::ffff:127.0.0.1", null, HttpStatusCode.OK),
            ("10.1.2.3", null, HttpStatusCode.Forbidden),
            ("none", null, HttpStatusCode.Forbidden),
            ("127.0.0.1", "X-Forwarded-For: 203.0.113.9", HttpStatusCode.Forbidden),
            ("127.0.0.1", "Forwarded: for=203.0.113.9", HttpStatusCode.Forbidden),
        ];

        foreach (var (remoteAddress, proxyHeader, expected) in cases)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/jobs/counts");
            request.Headers.Add(RemoteAddressHeader, remoteAddress);
            if (proxyHeader?.Split(": ", 2) is [var name, var value])
            {
                request.Headers.Add(name, value);
            }

            using var response = await http.SendAsync(request);
            Assert.True(expected == response.StatusCode, $"{remoteAddress} {proxyHeader}: {response.StatusCode}, expected {expected}");
            if (expected == HttpStatusCode.Forbidden)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                var detail = (await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!.GetValue<string>();
                Assert.Contains("Api:Keys:{i}:Sha256", detail, StringComparison.Ordinal);
                Assert.Contains("keys new", detail, StringComparison.Ordinal);
            }

            // The probes stay open to everyone.
            using var live = new HttpRequestMessage(HttpMethod.Get, "/health/live");
            live.Headers.Add(RemoteAddressHeader, remoteAddress);
            using var liveResponse = await http.SendAsync(live);
            Assert.Equal(HttpStatusCode.OK, liveResponse.StatusCode);
        }
    }

    [Fact]
    public async Task ALoopbackCallerWithNoKeyConfiguredMayDoEverythingAndSeesWholeJobs()
    {
        await using var factory = UnkeyedApi();
        using var http = factory.CreateClient();
        http.DefaultRequestHeaders.Add(RemoteAddressHeader, "127.0.0.1");

        using var created = await http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json("""{"type":"test_echo","payload":{"value":"loopback"}}"""));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var job = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("loopback", job["payload"]!["value"]!.GetValue<string>());

        using var dryRun = await http.PostAsync(new Uri("/jobs/bulk", UriKind.Relative),
            ApiFixture.Json($$"""{"action":"delete","filter":{"idPrefix":"sec-none-{{Guid.NewGuid():N}}"},"dryRun":true}"""));
        Assert.Equal(HttpStatusCode.OK, dryRun.StatusCode);
    }

    [Fact]
    public async Task OverTheRateLimitAKeyGets429WithRetryAfterWhileAnotherKeyIsStillServed()
    {
        await using var factory = api.Factory.WithWebHostBuilder(web => Keys(web, (1, "reader", ReadKey, ["read"]))
            .UseSetting("Api:RateLimit:PermitsPerSecond", "1")
            .UseSetting("Api:RateLimit:Burst", "2"));
        using var http = factory.CreateClient();

        // A burst of 2 refilled at 1 a second: some request among the first few dozen must be refused.
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 50 && refused is null; i++)
        {
            var response = await SendAsync(http, HttpMethod.Get, "/job-types", ApiFixture.TestKey);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                response.Dispose();
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single(), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 60);
            Assert.Contains("Api:RateLimit", (await refused.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        // Each key has a bucket of its own, and probes are never limited.
        using var other = await SendAsync(http, HttpMethod.Get, "/job-types", ReadKey);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        using var live = await SendAsync(http, HttpMethod.Get, "/health/live", ApiFixture.TestKey);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task KeysCommandPrintsAKeyWhoseDigestIsTheConfigurationLineAndTheApiAcceptsIt()
    {
        // As a process: the command must exit by itself, so it cannot have started the web host.
        var (exitCode, output, error) = await RepoTool.RunAsync("Api", "OrleansTasks.Api", TimeSpan.FromMinutes(1),
            "keys", "new", "--name", "ci", "--scopes", "write");
        Assert.True(exitCode == 0, error);
        var lines = output.Split('\n', StringSplitOptions.TrimEntries);
        var key = lines.Single(l => l.StartsWith("otk_", StringComparison.Ordinal));
        var settings = lines.Where(l => l.StartsWith("Api__Keys__0__", StringComparison.Ordinal))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0].Replace("__", ":", StringComparison.Ordinal), p => p[1]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))), settings["Api:Keys:0:Sha256"]);
        Assert.Equal("ci", settings["Api:Keys:0:Name"]);
        Assert.Equal("write", settings["Api:Keys:0:Scopes:0"]);
        Assert.DoesNotContain("listening", output, StringComparison.OrdinalIgnoreCase);

        // A second run makes a different key.
        var (_, again, _) = await RepoTool.RunAsync("Api", "OrleansTasks.Api", TimeSpan.FromMinutes(1), "keys", "new", "--name", "ci", "--scopes", "write");
        Assert.DoesNotContain(key, again, StringComparison.Ordinal);

        await using var factory = UnkeyedApi(web =>
        {
            foreach (var (name, value) in settings)
            {
                web.UseSetting(name, value);
            }
        });
        using var http = factory.CreateClient();
        using var created = await SendAsync(http, HttpMethod.Post, "/jobs", key, """{"type":"test_echo","payload":{"value":"ci"}}""", bearer: true);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        using var listing = await SendAsync(http, HttpMethod.Get, "/jobs", key, bearer: true);
        Assert.Equal(HttpStatusCode.Forbidden, listing.StatusCode);
    }

    [Theory]
    [InlineData("Sha256", "not-a-digest", "Api:Keys:0 ('broken'):Sha256 must be the 64 hex characters")]
    [InlineData("Scopes:0", "rwite", "Api:Keys:0 ('broken'):Scopes has the unknown scope 'rwite'")]
    public async Task AnUnusableKeyStopsStartUpNamingTheKey(string setting, string value, string message)
    {
        await using var factory = UnkeyedApi(web => web
            .UseSetting("Api:Keys:0:Name", "broken")
            .UseSetting("Api:Keys:0:Sha256", new string('a', 64))
            .UseSetting("Api:Keys:0:Scopes:0", "read")
            .UseSetting($"Api:Keys:0:{setting}", value));

        var failure = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains(message, failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void EnvExampleLinesAreKeysTheApiReadsAndPassItsValidation()
    {
        var lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, ".env.example"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0].Replace("__", ":", StringComparison.Ordinal), p => (string?)p[1]);
        Assert.All(lines.Keys, k => Assert.StartsWith("Api:Keys:", k, StringComparison.Ordinal));

        var options = new ConfigurationBuilder().AddInMemoryCollection(lines).Build().GetSection("Api").Get<ApiKeysOptions>()!;
        Assert.Equal(2, options.Keys.Count);
        Assert.Equal(ValidateOptionsResult.Success, new ApiKeysValidator().Validate(null, options));
    }

    /// <summary>The API on the shared cluster with no key configured, remote addresses set by <see cref="RemoteAddressHeader"/>.</summary>
    private WebApplicationFactory<Program> UnkeyedApi(Action<IWebHostBuilder>? configure = null) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:Redis", api.Redis.ConnectionString)
                .UseSetting("Orleans:ClusterId", api.Identity.ClusterId)
                .UseSetting("Orleans:ServiceId", api.Identity.ServiceId)
                .ConfigureServices(services => services.AddSingleton<IStartupFilter, RemoteAddressFromHeader>());
            configure?.Invoke(web);
        });

    private static IWebHostBuilder Keys(IWebHostBuilder web, params (int Index, string Name, string Key, string[] Scopes)[] keys)
    {
        foreach (var (index, name, key, scopes) in keys)
        {
            web.UseSetting($"Api:Keys:{index}:Name", name)
                .UseSetting($"Api:Keys:{index}:Sha256", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))));
            for (var s = 0; s < scopes.Length; s++)
            {
                web.UseSetting($"Api:Keys:{index}:Scopes:{s}", scopes[s]);
            }
        }

        return web;
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, string? key, string? body = null, bool bearer = false)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = ApiFixture.Json(body);
        }

        if (key is not null && bearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        else if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return await http.SendAsync(request);
    }

    /// <summary>Sets the connection's remote address from <see cref="RemoteAddressHeader"/>, before the API sees the request.</summary>
    private sealed class RemoteAddressFromHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(RemoteAddressHeader, out var value))
                {
                    context.Connection.RemoteIpAddress = value.ToString() == "none" ? null : IPAddress.Parse(value.ToString());
                    context.Request.Headers.Remove(RemoteAddressHeader);
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
