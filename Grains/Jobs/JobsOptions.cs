namespace OrleansTasks.Jobs;

/// <summary>Silo-side engine settings, bound from the <c>Jobs</c> configuration section.</summary>
public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    /// <summary>Handlers one silo runs at once; the rest wait in <c>queued</c>. Default: 20 (Hangfire's worker count).</summary>
    public int MaxConcurrency { get; set; } = 20;

    /// <summary>
    /// Period of the durable wake-up of a queued or running job. When a silo dies, its jobs are picked up by the
    /// next tick on a surviving silo (after failure detection), so this bounds the recovery delay; each tick of a
    /// job that is fine costs one in-memory grain call. Minimum 1 second. Default: 15 seconds.
    /// </summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(15);
}
