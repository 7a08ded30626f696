using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansTasks.Examples;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;

namespace OrleansTasks.Silo;

/// <summary>
/// The silo process as Program.cs runs it. Public so that a host which adds its own job types (the chaos run's
/// silo in tools/ChaosSilo) and the tests get exactly the production wiring, not a copy of it.
/// </summary>
public static class SiloHost
{
    /// <summary>
    /// Builds the silo host from <paramref name="args"/>, appsettings.json and the environment: clustering, storage
    /// and reminders, the engine, the example job types (unless <c>Examples:Enabled</c> is false) and the job types
    /// <paramref name="addJobs"/> registers.
    /// </summary>
    public static IHost Build(string[] args, Action<JobTypeRegistryBuilder>? addJobs = null)
    {
        var builder = CreateBuilder(args);
        var cluster = ClusterSettings.Bind(builder.Configuration);
        var redis = cluster.Redis;

        builder.UseOrleans(silo => silo
            .AddClustering(cluster, builder.Configuration)
            .AddJobProviders(redis));
        AddJobTypes(builder.Services, builder.Configuration, addJobs);
        if (redis is not null)
        {
            builder.Services.AddHostedService(sp => new RedisDurabilityCheck(redis, sp.GetRequiredService<ILogger<RedisDurabilityCheck>>()));
        }

        var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansTasks.Silo");
        if (redis is null)
        {
            SiloLog.NotDurable(logger);
        }
        else
        {
            SiloLog.Durable(logger, SiloSetup.ParseRedis(redis).ToString(includePassword: false));
        }

        return host;
    }

    /// <summary>
    /// Runs the silo, or with <c>reindex [--verify-only]</c> as the first argument the <see cref="ReindexCommand"/>
    /// (same configuration and job types, no silo). Returns the process's exit code.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Action<JobTypeRegistryBuilder>? addJobs = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args is [ReindexCommand.Name, .. var rest])
        {
            return await ReindexCommand.RunAsync(rest, addJobs, Console.Out, Console.Error);
        }

        await Build(args, addJobs).RunAsync();
        return 0;
    }

    /// <summary>The host builder with the silo's configuration sources: appsettings.json, the environment, <paramref name="args"/>.</summary>
    internal static HostApplicationBuilder CreateBuilder(string[] args) =>

        // Content root at the binary, so appsettings.json is found however the silo is started (dotnet run, a script, a container).
        Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });

    /// <summary>The engine with the example job types (unless <c>Examples:Enabled</c> is false) and those <paramref name="addJobs"/> registers.</summary>
    internal static void AddJobTypes(IServiceCollection services, IConfiguration configuration, Action<JobTypeRegistryBuilder>? addJobs)
    {
        var examples = configuration.GetSection(ExamplesOptions.SectionName).Get<ExamplesOptions>() ?? new ExamplesOptions();
        services.AddOrleansTasks(jobs =>
        {
            if (examples.Enabled)
            {
                jobs.AddExampleJobs();
            }

            addJobs?.Invoke(jobs);
        });
    }
}
