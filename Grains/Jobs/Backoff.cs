namespace OrleansTasks.Jobs;

/// <summary>Exponential backoff with jitter, as Dramatiq does it.</summary>
public static class Backoff
{
    /// <summary>
    /// The base delay before retry <paramref name="retry"/> (1-based): <c>min(maxBackoff, minBackoff·2^(retry-1))</c>.
    /// </summary>
    public static TimeSpan Base(int retry, TimeSpan minBackoff, TimeSpan maxBackoff)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retry, 1);

        // Doubling in floating point cannot overflow TimeSpan before it is capped.
        var ticks = minBackoff.Ticks * Math.Pow(2, Math.Min(retry - 1, 62));
        return ticks >= maxBackoff.Ticks ? maxBackoff : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>
    /// The actual delay: uniformly in <c>[b, 1.5·b]</c> for the base <c>b</c>, so retries of jobs that failed
    /// together (an outage) do not all hit the recovering system in the same instant.
    /// </summary>
    /// <param name="retry">1-based retry number.</param>
    /// <param name="policy">The job's policy.</param>
    /// <param name="unitRandom">A value in [0, 1); tests pass fixed values.</param>
    public static TimeSpan Delay(int retry, JobPolicy policy, double unitRandom)
    {
        var b = Base(retry, policy.MinBackoff, policy.MaxBackoff);
        return b + TimeSpan.FromTicks((long)(b.Ticks * 0.5 * Math.Clamp(unitRandom, 0, 1)));
    }
}
