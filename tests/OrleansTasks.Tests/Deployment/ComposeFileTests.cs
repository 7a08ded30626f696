using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Examples;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;
using YamlDotNet.Serialization;

namespace OrleansTasks.Tests.Deployment;

/// <summary>
/// No Docker engine runs here, so the compose file and Dockerfiles are checked for what can drift: services,
/// configuration keys the apps really read, ports, Redis durability, image bases and users.
/// </summary>
public sealed partial class ComposeFileTests
{
    private static readonly string Root = RepoPaths.Root;

    private static readonly Dictionary<string, object> Compose =
        new DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(File.ReadAllText(Path.Combine(Root, "docker-compose.yml")));

    private static Dictionary<object, object> Service(string name) =>
        (Dictionary<object, object>)((Dictionary<object, object>)Compose["services"])[name];

    private static Dictionary<string, string?> Environment(string service) =>
        ((Dictionary<object, object>)Service(service)["environment"]).ToDictionary(e => (string)e.Key, e => (string?)e.Value);

    private static IConfiguration AsConfiguration(Dictionary<string, string?> environment) =>
        new ConfigurationBuilder().AddInMemoryCollection(environment.ToDictionary(e => e.Key.Replace("__", ":", StringComparison.Ordinal), e => e.Value)).Build();

    private static List<string> Strings(object list) => [.. ((List<object>)list).Cast<string>()];

    [Fact]
    public void RedisIsPersistentNeverEvictsAndReportsHealth()
    {
        var redis = Service("redis");
        Assert.StartsWith("redis:7", (string)redis["image"], StringComparison.Ordinal);
        var command = string.Join(' ', Strings(redis["command"]));
        Assert.Contains("--appendonly yes", command, StringComparison.Ordinal);
        Assert.Contains("--maxmemory-policy noeviction", command, StringComparison.Ordinal);
        Assert.Empty(RedisDurabilityCheck.Assess("noeviction", "yes", string.Empty));
        var volume = Strings(redis["volumes"]).Single();
        Assert.Equal("/data", volume.Split(':')[1]);
        Assert.True(((Dictionary<object, object>)Compose["volumes"]).ContainsKey(volume.Split(':')[0]), "the Redis volume is a named volume");
        Assert.Contains("ping", string.Join(' ', Strings(((Dictionary<object, object>)redis["healthcheck"])["test"])), StringComparison.Ordinal);
    }

    [Fact]
    public void SiloScalesWithoutHostPortsAndWaitsForHealthyRedis()
    {
        var silo = Service("silo");
        Assert.False(silo.ContainsKey("ports"), "fixed host ports would break --scale silo=3");
        Assert.Equal("service_healthy", DependsOn(silo, "redis"));
        Assert.True(File.Exists(Path.Combine(Root, Dockerfile(silo))));
    }

    [Fact]
    public void SiloEnvironmentUsesOnlyKeysTheSiloReadsAndTheyTakeEffect()
    {
        var environment = Environment("silo");
        foreach (var key in environment.Keys.Select(k => k.Replace("__", ":", StringComparison.Ordinal)))
        {
            Assert.True(
                ClusterSettings.Keys.Contains(key)
                || IsProperty<ClusterMembershipOptions>(key, SiloSetup.MembershipSection)
                || IsProperty<JobsOptions>(key, JobsOptions.SectionName)
                || IsProperty<ExamplesOptions>(key, ExamplesOptions.SectionName)
                || key is SiloMetrics.PortKey or SiloMetrics.HostKey,
                $"the silo does not read {key}");
        }

        var configuration = AsConfiguration(environment);
        var settings = ClusterSettings.Bind(configuration);
        Assert.Equal("redis:6379", settings.Redis);
        Assert.Equal(environment["Orleans__ClusterId"], settings.ClusterId);
        var membership = configuration.GetSection(SiloSetup.MembershipSection).Get<ClusterMembershipOptions>()!;
        Assert.Equal(TimeSpan.FromSeconds(2), membership.ProbeTimeout);
        Assert.Equal(2, membership.NumMissedProbesLimit);
        Assert.Equal(TimeSpan.FromSeconds(5), configuration.GetSection(JobsOptions.SectionName).Get<JobsOptions>()!.RecoveryInterval);
    }

    [Fact]
    public void ApiEnvironmentUsesOnlyKeysTheApiReadsAndMatchesTheSilos()
    {
        var api = Environment("api");
        var silo = Environment("silo");
        foreach (var key in api.Keys.Select(k => k.Replace("__", ":", StringComparison.Ordinal)))
        {
            Assert.True(OrleansClientSetup.Keys.Contains(key) || key == "ASPNETCORE_URLS" || IsProperty<ApiOptions>(key, ApiOptions.SectionName),
                $"the API does not read {key}");
        }

        foreach (var shared in new[] { "ConnectionStrings__Redis", "Orleans__ClusterId", "Orleans__ServiceId" })
        {
            Assert.Equal(silo[shared], api[shared]);
        }

        Assert.Equal("redis", api["ConnectionStrings__Redis"]!.Split(':')[0]);
        Assert.True(((Dictionary<object, object>)Compose["services"]).ContainsKey("redis"));
    }

    [Fact]
    public void ApiPublishesThePortItListensOn()
    {
        var api = Service("api");
        var listen = new Uri(Environment("api")["ASPNETCORE_URLS"]!).Port;
        var published = Strings(api["ports"]).Single().Split(':');
        Assert.Equal(8080, int.Parse(published[0], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(listen, int.Parse(published[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains($"EXPOSE {listen}", File.ReadAllText(Path.Combine(Root, Dockerfile(api))), StringComparison.Ordinal);
        Assert.Equal("service_healthy", DependsOn(api, "redis"));
    }

    [Theory]
    [InlineData("Silo/Dockerfile", "Silo/Silo.csproj", "runtime")]
    [InlineData("Api/Dockerfile", "Api/Api.csproj", "aspnet")]
    public void DockerfilesBuildOnTheSdkRunOnTheRuntimeAsNonRootAndCopyRealPaths(string dockerfile, string project, string runtimeImage)
    {
        var lines = File.ReadAllLines(Path.Combine(Root, dockerfile));
        var froms = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, froms.Count);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0 ", froms[0], StringComparison.Ordinal);
        Assert.StartsWith($"FROM mcr.microsoft.com/dotnet/{runtimeImage}:10.0 ", froms[1], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Trim() is "USER $APP_UID" or "USER app");

        foreach (var copy in lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal)))
        {
            var parts = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var source in parts[1..^1])
            {
                Assert.True(File.Exists(Path.Combine(Root, source)) || Directory.Exists(Path.Combine(Root, source)), $"{dockerfile}: {source} does not exist");
            }
        }

        var assembly = AssemblyName().Match(File.ReadAllText(Path.Combine(Root, project))).Groups[1].Value;
        Assert.Contains(lines, l => l.Contains($"\"{assembly}.dll\"", StringComparison.Ordinal) && l.StartsWith("ENTRYPOINT", StringComparison.Ordinal));
    }

    private static string Dockerfile(Dictionary<object, object> service) =>
        (string)((Dictionary<object, object>)service["build"])["dockerfile"];

    private static string DependsOn(Dictionary<object, object> service, string other) =>
        (string)((Dictionary<object, object>)((Dictionary<object, object>)service["depends_on"])[other])["condition"];

    private static bool IsProperty<TOptions>(string key, string section) =>
        key.StartsWith(section + ":", StringComparison.Ordinal)
        && typeof(TOptions).GetProperty(key[(section.Length + 1)..]) is { CanWrite: true };

    [GeneratedRegex("<AssemblyName>([^<]+)</AssemblyName>")]
    private static partial Regex AssemblyName();
}
