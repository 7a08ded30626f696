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

        // Before UseOrleans, so the lines saying where the silo looks come before it starts looking.
        AddStartupServices(builder.Services, cluster);
        builder.UseOrleans(silo => silo
            .AddClustering(cluster, builder.Configuration)
            .AddJobProviders(cluster.Redis, cluster.RedisTlsCaPath));
        AddJobTypes(builder.Services, builder.Configuration, addJobs);
        return builder.Build();
    }

    /// <summary>
    /// The start-up log lines (durability, Redis endpoints without the password, cluster TLS) and the Redis durability
    /// check. Register them before the silo (UseOrleans) so they run first.
    /// </summary>
    public static IServiceCollection AddStartupServices(IServiceCollection services, ClusterSettings cluster)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(cluster);
        services.AddHostedService(sp => new StartupLog(sp.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansTasks.Silo"), cluster));
        if (cluster.Redis is { } redis)
        {
            services.AddHostedService(sp => new RedisDurabilityCheck(redis, sp.GetRequiredService<ILogger<RedisDurabilityCheck>>(), cluster.RedisTlsCaPath));
        }

        return services;
    }

    private sealed class StartupLog(ILogger logger, ClusterSettings cluster) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (cluster.Redis is not { } redis)
            {
                SiloLog.NotDurable(logger);
            }
            else
            {
                // Never the raw connection string: it may carry the Redis password.
                SiloLog.Durable(logger, RedisConnectionOptions.Create(redis).ToString(includePassword: false));
            }

            if (cluster.Tls.Enabled)
            {
                SiloLog.Tls(logger, cluster.Tls.CreateValidator().AuthoritySubject ?? "no CA", cluster.Tls.Thumbprints.Count);
            }
            else if (cluster.Redis is not null)
            {
                // Localhost clustering listens on loopback only; with Redis the ports face the network.
                SiloLog.NoTls(logger, cluster.Endpoints.SiloPort, cluster.Endpoints.GatewayPort);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
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
        var examples = OptionsBinding.Get<ExamplesOptions>(configuration, ExamplesOptions.SectionName);
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
