using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansTasks.Jobs;

/// <summary>Wires the job engine into a silo's services.</summary>
public static class OrleansTasksServiceCollectionExtensions
{
    /// <summary>
    /// Adds the engine (worker pool, job-type registry, options from the <c>Jobs</c> section) and the job types
    /// <paramref name="configureJobs"/> registers. Storage named <see cref="StorageNames.Jobs"/> and a reminder
    /// service must be configured on the silo separately.
    /// </summary>
    public static IServiceCollection AddOrleansTasks(this IServiceCollection services, Action<JobTypeRegistryBuilder> configureJobs)
    {
        ArgumentNullException.ThrowIfNull(configureJobs);
        services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.SectionName)
            .Validate(o => o.MaxConcurrency >= 1, "Jobs:MaxConcurrency must be at least 1.")
            .Validate(o => o.RecoveryInterval >= TimeSpan.FromSeconds(1), "Jobs:RecoveryInterval must be at least 1 second.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<JobRunner>();
        services.AddSingleton<IIncomingGrainCallFilter, Infrastructure.BoundaryExceptionFilter>();
        var jobs = new JobTypeRegistryBuilder(services);
        configureJobs(jobs);
        services.AddSingleton(jobs.Build());
        services.TryAddSingleton<JobClient>();
        return services;
    }
}
