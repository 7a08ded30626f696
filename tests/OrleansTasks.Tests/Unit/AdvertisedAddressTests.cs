using OrleansTasks.Hosting;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansTasks.Silo;

namespace OrleansTasks.Tests.Unit;

/// <summary>Which address a Redis-clustered silo advertises, resolved from the options as the real host resolves them.</summary>
public sealed class AdvertisedAddressTests
{
    [Fact]
    public void SiloOnRedisWithNoAddressConfiguredAdvertisesAnUpNonLoopbackIPv4AddressOfThisMachine()
    {
        var address = Advertised(new() { [ClusterSettings.RedisKey] = "127.0.0.1:1" });

        Assert.Equal(AddressFamily.InterNetwork, address.AddressFamily);
        Assert.False(IPAddress.IsLoopback(address));
        Assert.Contains(address, NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus == OperationalStatus.Up)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address));
    }

    [Fact]
    public void ConfiguredAddressIsAdvertisedAsIs()
    {
        var address = Advertised(new()
        {
            [ClusterSettings.RedisKey] = "127.0.0.1:1",
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "10.1.2.3",
        });

        Assert.Equal(IPAddress.Parse("10.1.2.3"), address);
    }

    [Fact]
    public void DefaultIsTheLowestNonLoopbackIPv4AddressAsOrleansPicksIt()
    {
        string[] candidates = ["127.0.0.1", "fd00::2", "172.18.0.3", "10.250.0.2", "172.18.0.2"];

        Assert.Equal(IPAddress.Parse("10.250.0.2"), SiloSetup.PickAdvertisedAddress(candidates.Select(IPAddress.Parse)));
    }

    [Fact]
    public void NoNonLoopbackIPv4AddressFailsWithAMessageNamingTheKeyAndItsEnvironmentVariable()
    {
        var error = Assert.Throws<OrleansConfigurationException>(() =>
            SiloSetup.PickAdvertisedAddress([IPAddress.Loopback, IPAddress.IPv6Loopback, IPAddress.Parse("fd00::2")]));

        Assert.Contains("Orleans:Endpoints:AdvertisedIPAddress", error.Message, StringComparison.Ordinal);
        Assert.Contains("Orleans__Endpoints__AdvertisedIPAddress", error.Message, StringComparison.Ordinal);
    }

    private static IPAddress Advertised(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleans(silo => silo.AddClustering(builder.Configuration));
        using var host = builder.Build();
        return host.Services.GetRequiredService<IOptions<EndpointOptions>>().Value.AdvertisedIPAddress;
    }
}
