using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Orleans.Configuration;
using OrleansTasks.Examples;
using OrleansTasks.Tests.Infrastructure;
using StackExchange.Redis;
using YamlDotNet.Serialization;

namespace OrleansTasks.Tests.Deployment;

/// <summary>
/// docker-compose.yml run for real, without Docker: the built Silo and Api processes, each with exactly the
/// environment its compose service gets, and the compose Redis command, all inside a network namespace of the
/// test's own where the name <c>redis</c> resolves to the namespace's address, as on the compose network.
/// </summary>
public sealed class ComposeDeploymentTests
{
    private static readonly Dictionary<string, object> Compose =
        new DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(File.ReadAllText(Path.Combine(RepoPaths.Root, "docker-compose.yml")));

    private static readonly string SiloDll = Built("Silo", "OrleansTasks.Silo");
    private static readonly string ApiDll = Built("Api", "OrleansTasks.Api");

    [Fact]
    public async Task ComposeServicesRunJobsOnTwoSilosThatAdvertiseTheirOwnNonLoopbackAddress()
    {
        var siloEnvironment = Environment("silo");
        var apiEnvironment = Environment("api");
        var apiKey = await AddApiKeyFromEnvFileAsync(apiEnvironment);
        var redisEndpoint = siloEnvironment["ConnectionStrings__Redis"]!.Split(':');
        var redisDirectory = Directory.CreateTempSubdirectory("orleanstasks-compose-redis-").FullName;
        try
        {
            // Disposed (every process killed, the namespace and its veth pair deleted) before the directory goes.
            await using var ns = await NetworkNamespace.CreateAsync(withVeth: true,
                new Dictionary<string, string> { [redisEndpoint[0]] = NetworkNamespace.InsideAddress });

            // The compose command as written; the container image adds a data directory and turns protected mode off.
            var command = Strings(Service("redis")["command"]);
            ns.Start(command[0], [.. command[1..], "--port", redisEndpoint[1], "--dir", redisDirectory, "--protected-mode", "no"],
                new Dictionary<string, string?>());
            await using var redis = await ConnectAsync($"{NetworkNamespace.InsideAddress}:{redisEndpoint[1]}");

            var silo1 = ns.Start("dotnet", [SiloDll], siloEnvironment);
            var api = ns.Start("dotnet", [ApiDll], apiEnvironment);
            var processes = new List<(string Name, ProcessOutput Output)> { ("silo 1", silo1), ("api", api) };
            string Logs() => string.Join("\n", processes.Select(p => $"--- {p.Name}:\n{p.Output.Text}"));
            void AllAlive()
            {
                foreach (var (name, output) in processes)
                {
                    Assert.False(output.Process.HasExited, $"{name} exited with {(output.Process.HasExited ? output.Process.ExitCode : 0)}:\n{Logs()}");
                }
            }

            using var http = new HttpClient(new HttpClientHandler { UseProxy = false })
            {
                BaseAddress = new Uri($"http://{NetworkNamespace.InsideAddress}:{new Uri(apiEnvironment["ASPNETCORE_URLS"]!).Port}"),
            };
            await Poll.UntilAsync(async () =>
            {
                AllAlive();
                try
                {
                    using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                    return ready.StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            }, status => status == HttpStatusCode.OK, TimeSpan.FromMinutes(3), "the API to report ready");

            // The test connects from outside the namespace, never from loopback: without the key it is refused.
            using (var anonymous = await http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json("""{"type": "x"}""")))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            }

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);

            var first = await RunJobAsync(http);
            var siloPort = EndpointOptions.DEFAULT_SILO_PORT;
            Assert.StartsWith($"S{NetworkNamespace.InsideAddress}:{siloPort}:", Silos(first).Single(), StringComparison.Ordinal);

            // The second silo is the same service scaled: the same environment, with only the ports moved that
            // would clash on one machine (in compose each container has its own address, so they never do).
            Assert.DoesNotContain("Orleans__Endpoints__SiloPort", siloEnvironment.Keys);
            Assert.DoesNotContain("Orleans__Endpoints__GatewayPort", siloEnvironment.Keys);
            var silo2Port = siloPort + 1;
            var silo2 = ns.Start("dotnet", [SiloDll], new Dictionary<string, string?>(siloEnvironment)
            {
                ["Orleans__Endpoints__SiloPort"] = silo2Port.ToString(CultureInfo.InvariantCulture),
                ["Orleans__Endpoints__GatewayPort"] = (EndpointOptions.DEFAULT_GATEWAY_PORT + 1).ToString(CultureInfo.InvariantCulture),
                ["Metrics__Port"] = (int.Parse(siloEnvironment["Metrics__Port"]!, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture),
            });
            processes.Add(("silo 2", silo2));

            // Jobs are placed at random: submit a few at a time until both silos have run some.
            var silos = new HashSet<string>();
            await Poll.UntilAsync(async () =>
            {
                AllAlive();
                foreach (var job in await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RunJobAsync(http))))
                {
                    silos.UnionWith(Silos(job).Select(s => s.Split(':')[1]));
                }

                return silos.Count;
            }, count => count == 2, TimeSpan.FromMinutes(3), "jobs to run on both silos");
            Assert.Equal([siloPort.ToString(CultureInfo.InvariantCulture), silo2Port.ToString(CultureInfo.InvariantCulture)], silos.Order());

            // Both silos advertise the namespace's own address in the membership table, never loopback.
            var members = await redis.GetDatabase().HashGetAllAsync($"{siloEnvironment["Orleans__ServiceId"]}/members/{siloEnvironment["Orleans__ClusterId"]}");
            var table = string.Join('\n', members.Select(m => m.Value.ToString()));
            Assert.Contains($"{NetworkNamespace.InsideAddress}:{siloPort}", table, StringComparison.Ordinal);
            Assert.Contains($"{NetworkNamespace.InsideAddress}:{silo2Port}", table, StringComparison.Ordinal);
            Assert.DoesNotContain("127.0.0.1", table, StringComparison.Ordinal);

            // The scrape the compose file documents: the silo's own metrics port, from outside, on its address.
            var scrape = PrometheusText.Parse(await http.GetStringAsync(new Uri($"http://{NetworkNamespace.InsideAddress}:{siloEnvironment["Metrics__Port"]}/metrics")));
            Assert.Contains(scrape.Find("orleanstasks_worker_slots", ("orleanstasks_worker_slot_state", "total")), s => s.Value > 0);
            AllAlive();
        }
        finally
        {
            Directory.Delete(redisDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task SiloWithNoNonLoopbackAddressStopsWithAMessageNamingTheKeyToSet()
    {
        await using var ns = await NetworkNamespace.CreateAsync(withVeth: false);
        var silo = ns.Start("dotnet", [SiloDll], Environment("silo"));

        await silo.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.NotEqual(0, silo.Process.ExitCode);
        Assert.Contains("Orleans:Endpoints:AdvertisedIPAddress", silo.Text, StringComparison.Ordinal);
        Assert.Contains("Orleans__Endpoints__AdvertisedIPAddress", silo.Text, StringComparison.Ordinal);
    }

    /// <summary>
    /// What an operator does for compose: <c>keys new</c> makes a key, its lines go into the env file the api service
    /// reads, which is here merged into the service's environment as compose would. Returns the key.
    /// </summary>
    private static async Task<string> AddApiKeyFromEnvFileAsync(Dictionary<string, string?> apiEnvironment)
    {
        var envFile = (Dictionary<object, object>)((List<object>)Service("api")["env_file"]).Single();
        Assert.Equal(".env", envFile["path"]);
        var (exitCode, output, error) = await RepoTool.RunAsync("Api", "OrleansTasks.Api", TimeSpan.FromMinutes(1),
            "keys", "new", "--name", "compose-test", "--scopes", "read,write");
        Assert.True(exitCode == 0, error);
        var lines = output.Split('\n', StringSplitOptions.TrimEntries);
        foreach (var line in lines.Where(l => l.StartsWith("Api__Keys__", StringComparison.Ordinal)))
        {
            var setting = line.Split('=', 2);
            apiEnvironment[setting[0]] = setting[1];
        }

        Assert.Contains("Api__Keys__0__Sha256", apiEnvironment.Keys);
        return lines.Single(l => l.StartsWith("otk_", StringComparison.Ordinal));
    }

    private static async Task<JsonObject> RunJobAsync(HttpClient http)
    {
        using var response = await http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json($$$"""{"type": "{{{SendWelcomeEmail.Name}}}", "payload": {"email": "compose@example.com"}}"""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        var job = await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonObject>(new Uri($"/jobs/{id}", UriKind.Relative)))!,
            j => j["status"]!.GetValue<string>() is "succeeded" or "failed", TimeSpan.FromSeconds(90), $"job {id}");
        Assert.Equal("succeeded", job["status"]!.GetValue<string>());
        return job;
    }

    private static IEnumerable<string> Silos(JsonObject job) =>
        job["history"]!.AsArray().Select(a => a!["silo"]!.GetValue<string>());

    private static async Task<ConnectionMultiplexer> ConnectAsync(string endpoint) =>
        (await Poll.UntilAsync(async () =>
        {
            try
            {
                var options = ConfigurationOptions.Parse(endpoint);
                options.ConnectTimeout = 1000;
                return await ConnectionMultiplexer.ConnectAsync(options);
            }
            catch (RedisConnectionException)
            {
                return null;
            }
        }, c => c is not null, TimeSpan.FromSeconds(30), $"redis-server at {endpoint}"))!;

    private static string Built(string project, string assembly)
    {
        var path = Path.Combine(RepoPaths.Root, project, "bin", RepoTool.Configuration, "net10.0", assembly + ".dll");
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is not built (the tests build it).");
    }

    private static Dictionary<object, object> Service(string name) =>
        (Dictionary<object, object>)((Dictionary<object, object>)Compose["services"])[name];

    private static Dictionary<string, string?> Environment(string service) =>
        ((Dictionary<object, object>)Service(service)["environment"]).ToDictionary(e => (string)e.Key, e => (string?)e.Value);

    private static List<string> Strings(object list) => [.. ((List<object>)list).Cast<string>()];
}
