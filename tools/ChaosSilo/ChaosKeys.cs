namespace OrleansTasks.Chaos;

/// <summary>
/// Names the probe and the chaos tool agree on. Compiled into both tools/ChaosSilo (which writes them) and
/// tools/Chaos (which reads them), so the two cannot drift apart.
/// </summary>
public static class ChaosKeys
{
    /// <summary>The probe's job type name.</summary>
    public const string ProbeType = "chaos_probe";

    /// <summary>The Redis list holding one entry (<c>attempt|time</c>) per execution of <paramref name="jobId"/>.</summary>
    public static string Executions(string jobId) => $"chaos-exec:{jobId}";
}
