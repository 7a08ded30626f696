namespace OrleansTasks.Jobs;

/// <summary>Silo-side engine settings, bound once from the <c>Jobs</c> configuration section and validated at start.</summary>
public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    /// <summary>Handlers one silo runs at once; the rest wait in <c>queued</c>. Default: 20 (Hangfire's worker count).</summary>
    public int MaxConcurrency { get; set; } = 20;

    /// <summary>
    /// How often the recovery sweeper calls every queued and running job, and the period of a waiting job's wake-up.
    /// When a silo dies, its jobs are picked up by the next sweep (after failure detection), so this bounds the
    /// recovery delay; each call to a job that is fine costs one in-memory grain call. Minimum 1 second. Default: 15
    /// seconds.
    /// </summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Largest handler result, as UTF-8 JSON. A larger result fails the attempt for good (<c>ResultTooLarge</c>):
    /// results are stored with the job and returned by every query. Default: 64 KiB.
    /// </summary>
    public int MaxResultBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How long a cancelled running job's handler gets to return after its token fires; after that the job is
    /// <c>cancelled</c> whatever the handler does (a handler still running then keeps its slot, counted as stuck).
    /// Default: 30 seconds.
    /// </summary>
    public TimeSpan CancelGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Fraction of Redis <c>maxmemory</c> above which new enqueues are refused with 503 (running jobs still record
    /// their outcomes). Applies only when Redis has a <c>maxmemory</c>. Default: 0.9.
    /// </summary>
    public double RedisMemoryHighWatermark { get; set; } = 0.9;

    /// <summary>How long finished jobs are kept, and caps per final state (<c>Jobs:Retention</c>).</summary>
    public JobRetentionOptions Retention { get; set; } = new();

    /// <summary>Field errors, empty when the options are usable; checked at start-up.</summary>
    public IEnumerable<string> Validate()
    {
        foreach (var error in Retention.Validate())
        {
            yield return error;
        }

        if (MaxConcurrency < 1)
        {
            yield return "Jobs:MaxConcurrency must be at least 1.";
        }

        if (RecoveryInterval < TimeSpan.FromSeconds(1) || RecoveryInterval > TimeSpan.FromDays(1))
        {
            yield return "Jobs:RecoveryInterval must be between 1 second and 1 day.";
        }

        if (CancelGrace < TimeSpan.Zero || CancelGrace > TimeSpan.FromHours(1))
        {
            yield return "Jobs:CancelGrace must be between 0 and 1 hour.";
        }

        if (RedisMemoryHighWatermark is <= 0 or > 1)
        {
            yield return "Jobs:RedisMemoryHighWatermark must be a fraction above 0 and at most 1.";
        }

        if (MaxResultBytes < 2)
        {
            yield return "Jobs:MaxResultBytes must be at least 2 (the JSON \"{}\").";
        }
    }
}
