using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;
using OrleansTasks.Webhooks;

namespace OrleansTasks.Tests.Deployment;

/// <summary>The silo as Silo/Program.cs builds it (<see cref="SiloHost"/>), started in-process without Redis.</summary>
public sealed class SiloHostTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task ExamplesEnabledDecidesWhetherTheSiloListsTheExampleJobTypes(string? enabled, bool listed)
    {
        var args = InMemory("examples");
        if (enabled is not null)
        {
            args.Add($"--Examples:Enabled={enabled}");
        }

        using var host = SiloHost.Build([.. args]);
        await host.StartAsync();
        try
        {
            var types = (await host.Services.GetRequiredService<JobClient>().GetJobTypesAsync()).Select(t => t.Name).ToList();
            Assert.Equal(listed, types.Contains("send_welcome_email"));
            Assert.Equal(listed, types.Contains("generate_report"));
            Assert.Equal(listed, types.Contains("process_image"));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task WebhookAllowedHostsAsAListStartTheSilo()
    {
        // What appsettings.json's "AllowedHosts": [...] and Webhooks__AllowedHosts__0 give; it used to stop start-up.
        using var host = SiloHost.Build([.. InMemory("hosts"), "--Webhooks:AllowedHosts:0=hooks.example.com", "--Webhooks:AllowedHosts:1=10.0.0.7"]);
        await host.StartAsync();
        try
        {
            var hosts = host.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowedHostSet;
            Assert.Equal(["10.0.0.7", "hooks.example.com"], hosts.Order(StringComparer.Ordinal));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task AValueTheBinderCannotTakeStopsStartUpNamingItsKey()
    {
        using var host = SiloHost.Build([.. InMemory("bad-value"), "--Jobs:MaxConcurrency=abc"]);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Jobs:MaxConcurrency cannot be bound from 'abc'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ABadSettingReadBeforeTheHostIsBuiltStopsStartUpNamingItsKey()
    {
        var error = Assert.Throws<OptionsValidationException>(() => SiloHost.Build([.. InMemory("bad-examples"), "--Examples:Enabled=maybe"]));
        Assert.Contains("Examples:Enabled", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A silo in memory on free ports, in a cluster of its own.</summary>
    private static List<string> InMemory(string name) =>
    [
        // Empty: in memory, whatever the environment holds.
        "--ConnectionStrings:Redis=",
        $"--Orleans:Endpoints:SiloPort={RedisServer.FreePort().ToString(CultureInfo.InvariantCulture)}",
        $"--Orleans:Endpoints:GatewayPort={RedisServer.FreePort().ToString(CultureInfo.InvariantCulture)}",
        $"--Orleans:ClusterId={name}-{Guid.NewGuid():N}",
    ];
}
