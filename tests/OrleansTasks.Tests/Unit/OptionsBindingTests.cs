using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;
using OrleansTasks.Webhooks;

namespace OrleansTasks.Tests.Unit;

/// <summary>
/// Every setting that holds several values takes both the list form (<c>Key:0</c>, what an appsettings.json array
/// and <c>Key__0</c> write) and the comma form (<c>Key=a,b</c>); a value the binder cannot take fails start-up with
/// an <see cref="OptionsValidationException"/> naming its key, not the binder's stack trace.
/// </summary>
public sealed class OptionsBindingTests : IDisposable
{
    private readonly TestCertificates _cluster = TestCertificates.CreateAuthority("binding CA");

    private static readonly string Sha1 = new('A', 40);
    private static readonly string Sha256 = new('b', 64);

    public static TheoryData<string> Forms => ["list", "comma"];

    [Theory]
    [MemberData(nameof(Forms))]
    public void WebhookAllowedHostsTakeTheListAndTheCommaForm(string form)
    {
        using var engine = Engine(form == "list"
            ? new() { ["Webhooks:AllowedHosts:0"] = "hooks.example.com", ["Webhooks:AllowedHosts:1"] = "10.0.0.7" }
            : new() { ["Webhooks:AllowedHosts"] = "hooks.example.com, 10.0.0.7" });

        var options = engine.GetRequiredService<IOptions<WebhookOptions>>().Value;
        Assert.Equal(["10.0.0.7", "hooks.example.com"], options.AllowedHostSet.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void WebhookAllowedHostsStillSplitOnSemicolonsAndSpacesInEitherForm()
    {
        using var engine = Engine(new() { ["Webhooks:AllowedHosts:0"] = "a.example b.example", ["Webhooks:AllowedHosts:1"] = "c.example;d.example" });
        Assert.Equal(["a.example", "b.example", "c.example", "d.example"],
            engine.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowedHostSet.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void ClusterTlsThumbprintsTakeTheListAndTheCommaForm(string form)
    {
        Dictionary<string, string?> settings = new() { ["Orleans:Tls:CertificatePath"] = _cluster.Issue("silo") };
        if (form == "list")
        {
            settings["Orleans:Tls:Thumbprints:0"] = Sha1;
            settings["Orleans:Tls:Thumbprints:1"] = Sha256;
        }
        else
        {
            settings["Orleans:Tls:Thumbprints"] = $"{Sha1}, {Sha256}";
        }

        var tls = ClusterSettings.Bind(Config(settings)).Tls;
        Assert.Equal([Sha1, Sha256], tls.Thumbprints);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void ApiKeyScopesTakeTheListAndTheCommaForm(string form)
    {
        Dictionary<string, string?> settings = new() { ["Api:Keys:0:Name"] = "ci", ["Api:Keys:0:Sha256"] = Sha256 };
        if (form == "list")
        {
            settings["Api:Keys:0:Scopes:0"] = "read";
            settings["Api:Keys:0:Scopes:1"] = "write";
        }
        else
        {
            settings["Api:Keys:0:Scopes"] = "read,write";
        }

        using var api = Api(settings);
        var key = Assert.Single(api.Services.GetRequiredService<IOptions<ApiKeysOptions>>().Value.Keys);
        Assert.Equal(["read", "write"], key.Scopes);
    }

    [Theory]
    [InlineData("Jobs:MaxConcurrency", "abc")]
    [InlineData("Jobs:RecoveryInterval", "soon")]
    [InlineData("Jobs:Retention:MaxFailed", "lots")]
    public void AnEngineValueTheBinderCannotTakeFailsNamingItsKey(string key, string value)
    {
        using var engine = Engine(new() { [key] = value });
        var error = Assert.Throws<OptionsValidationException>(() => engine.GetRequiredService<IOptions<JobsOptions>>().Value);
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWebhookValueTheBinderCannotTakeFailsNamingItsKey()
    {
        using var engine = Engine(new() { ["Webhooks:MaxRetries"] = "twelve" });
        var error = Assert.Throws<OptionsValidationException>(() => engine.GetRequiredService<IOptions<WebhookOptions>>().Value);
        Assert.Contains("Webhooks:MaxRetries", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AListWhereOneValueIsExpectedFailsNamingTheSettingNotItsFirstItem()
    {
        using var engine = Engine(new() { ["Webhooks:Secret:0"] = "one", ["Webhooks:Secret:1"] = "two" });
        var error = Assert.Throws<OptionsValidationException>(() => engine.GetRequiredService<IOptions<WebhookOptions>>().Value);
        Assert.Contains("Webhooks:Secret cannot be bound: it is given as a list", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AClusterValueTheBinderCannotTakeFailsNamingItsKey()
    {
        var error = Assert.Throws<OptionsValidationException>(() => ClusterSettings.Bind(Config(new() { ["Orleans:Endpoints:SiloPort"] = "eleven" })));
        Assert.Contains("Orleans:Endpoints:SiloPort", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Api:MaxRequestBytes", "big")]
    [InlineData("Api:RateLimit:PermitsPerSecond", "many")]
    public void AnApiValueTheBinderCannotTakeFailsNamingItsKey(string key, string value)
    {
        using var api = Api(new() { [key] = value });
        var error = Assert.Throws<OptionsValidationException>(() =>
        {
            _ = api.Services.GetRequiredService<IOptions<ApiOptions>>().Value;
            _ = api.Services.GetRequiredService<IOptions<ApiRateLimitOptions>>().Value;
        });
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _cluster.Dispose();

    private static IConfiguration Config(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    /// <summary>The engine's services as a silo registers them, on <paramref name="settings"/> alone.</summary>
    private static ServiceProvider Engine(Dictionary<string, string?> settings) =>
        new ServiceCollection().AddSingleton(Config(settings)).AddLogging().AddOrleansTasks(_ => { }).BuildServiceProvider();

    /// <summary>The API's options as Program.cs registers them, on <paramref name="settings"/>; no cluster is contacted.</summary>
    private static WebApplication Api(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddApiOptions();
        builder.AddApiSecurity();
        return builder.Build();
    }
}
