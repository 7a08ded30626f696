namespace OrleansTasks.Health;

/// <summary>Readiness as a silo sees it. Answered by whichever silo receives the call.</summary>
[Alias("OrleansTasks.IHealthGrain")]
public interface IHealthGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// True when a small read through the job storage answered within a bounded time; false when it failed or hung
    /// (the cause is logged on the silo, never sent). The answer is reused for about a second, so a flood of probes
    /// costs each silo at most about one storage round trip a second.
    /// </summary>
    [Alias("IsStorageAnswering")]
    Task<bool> IsStorageAnsweringAsync();
}
