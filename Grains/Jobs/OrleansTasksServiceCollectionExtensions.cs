using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;

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
        services.AddOptions<JobsOptions>().BindSection(JobsOptions.SectionName)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobsOptions>, JobsOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddKeyedSingleton<TimeProvider>(JobClock.Key, static (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.AddSingleton<JobRunner>();
        services.TryAddSingleton<StorageHeadroom>();
        services.TryAddSingleton<Observability.JobMetrics>();
        services.AddSingleton<IIncomingGrainCallFilter, Infrastructure.BoundaryExceptionFilter>();
        var jobs = new JobTypeRegistryBuilder(services);
        Webhooks.WebhookRegistration.AddWebhookDeliveries(jobs);
        configureJobs(jobs);
        services.AddSingleton(jobs.Build());
        services.AddSingleton(jobs.BuildSchedules());
        services.TryAddSingleton<JobRetention>();
        services.TryAddSingleton<JobClient>();
        services.TryAddSingleton<Schedules.ScheduleClient>();
        return services;
    }
}

/// <summary>Fails start-up with every problem of the <c>Jobs</c> section, each naming its key.</summary>
internal sealed class JobsOptionsValidator : IValidateOptions<JobsOptions>
{
    public ValidateOptionsResult Validate(string? name, JobsOptions options) =>
        options.Validate().ToList() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
}

/// <summary>
/// The engine's clock: a keyed <see cref="TimeProvider"/> (by default the host's), so tests can move the jobs' time
/// (with the reminders' clock, <c>ReminderTimeProviderNames.Reminders</c>) without moving Orleans' own timers.
/// </summary>
public static class JobClock
{
    public const string Key = "OrleansTasks.Jobs";
}
