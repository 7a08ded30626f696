using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;

namespace OrleansTasks.Tests.Unit;

public sealed class ClusterSettingsTests
{
    private static IConfiguration Config(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public void NothingConfiguredMeansTheDocumentedDefaultsAndNotDurable()
    {
        var settings = ClusterSettings.Bind(Config([]));
        Assert.Equal(("orleanstasks", "orleanstasks", 11111, 30000), (settings.ClusterId, settings.ServiceId, settings.Endpoints.SiloPort, settings.Endpoints.GatewayPort));
        Assert.Null(settings.Endpoints.AdvertisedIPAddress);
        Assert.False(settings.Durable);
    }

    [Fact]
    public void EveryKeyIsBoundFromTheSameNamesTheEnvironmentUses()
    {
        var settings = ClusterSettings.Bind(Config(new()
        {
            ["ConnectionStrings:Redis"] = "redis:6379",
            ["Orleans:ClusterId"] = "c",
            ["Orleans:ServiceId"] = "s",
            ["Orleans:Endpoints:SiloPort"] = "1",
            ["Orleans:Endpoints:GatewayPort"] = "2",
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "10.0.0.5",
        }));
        Assert.Equal(("redis:6379", "c", "s", 1, 2, "10.0.0.5"),
            (settings.Redis, settings.ClusterId, settings.ServiceId, settings.Endpoints.SiloPort, settings.Endpoints.GatewayPort, settings.Endpoints.AdvertisedIPAddress));
        Assert.True(settings.Durable);
        Assert.Equal(7 + ClusterTls.Keys.Count, ClusterSettings.Keys.Count);
    }

    [Fact]
    public void BadSettingsStopStartUpNamingEachKey()
    {
        var error = Assert.Throws<OptionsValidationException>(() => ClusterSettings.Bind(Config(new()
        {
            ["Orleans:ClusterId"] = " ",
            ["Orleans:Endpoints:GatewayPort"] = "70000",
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "not-an-ip",
        })));
        Assert.Contains(error.Failures, f => f.Contains("Orleans:ClusterId", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Orleans:Endpoints:GatewayPort", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Orleans:Endpoints:AdvertisedIPAddress", StringComparison.Ordinal));
    }
}
