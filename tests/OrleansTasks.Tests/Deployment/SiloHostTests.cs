using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;
using OrleansTasks.Tests.Infrastructure;

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
        List<string> args =
        [
            // Empty: in memory, whatever the environment holds.
            "--ConnectionStrings:Redis=",
            $"--Orleans:Endpoints:SiloPort={RedisServer.FreePort().ToString(CultureInfo.InvariantCulture)}",
            $"--Orleans:Endpoints:GatewayPort={RedisServer.FreePort().ToString(CultureInfo.InvariantCulture)}",
            $"--Orleans:ClusterId=examples-{Guid.NewGuid():N}",
        ];
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
}
