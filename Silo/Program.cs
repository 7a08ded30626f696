using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Configuration;
using OrleansTasks.Chaos;
using OrleansTasks.Examples;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;

// Content root at the binary, so appsettings.json is found however the silo is started (dotnet run, a script, a container).
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
var redis = builder.Configuration[SiloSetup.RedisConnectionKey];

builder.UseOrleans(silo => silo
    .AddClustering(builder.Configuration)
    .AddJobProviders(redis));
builder.Services.AddOrleansTasks(jobs =>
{
    jobs.AddExampleJobs();
    if (builder.Configuration.GetValue<bool>(ChaosJobs.EnableKey))
    {
        jobs.AddChaosProbe();
    }
});
if (!string.IsNullOrWhiteSpace(redis))
{
    builder.Services.AddHostedService(sp => new RedisDurabilityCheck(redis, sp.GetRequiredService<ILogger<RedisDurabilityCheck>>()));
}

var host = builder.Build();
var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansTasks.Silo");
if (string.IsNullOrWhiteSpace(redis))
{
    SiloLog.NotDurable(logger);
}
else
{
    SiloLog.Durable(logger, SiloSetup.ParseRedis(redis).ToString(includePassword: false));
}

await host.RunAsync();
