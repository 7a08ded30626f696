using System.Globalization;
using System.Text.Json.Nodes;
using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Chaos;

/// <summary>One attempt as the job's stored state records it.</summary>
public sealed record StoredAttempt(int Number, DateTimeOffset StartedAt, AttemptOutcome Outcome, string Silo);

/// <summary>
/// One job as Redis holds it after the run: the grain's stored state (null when nothing is stored) and the number
/// of executions the probe logged. This is the run's ground truth; the API's answers are only cross-checked against it.
/// </summary>
public sealed record StoredJob(string Id, JobStatus? Status, IReadOnlyList<StoredAttempt> History, long Executions)
{
    /// <summary>Attempts whose handler ran and reported back: each must match exactly one logged execution.</summary>
    public int Reported => History.Count(a => a.Outcome is AttemptOutcome.Succeeded or AttemptOutcome.Failed or AttemptOutcome.TimedOut);

    /// <summary>Attempts cut by a crash or a graceful stop: each may or may not have logged an execution.</summary>
    public int Cut => History.Count(a => a.Outcome is AttemptOutcome.Interrupted or AttemptOutcome.HandedOff);
}

public static class StoredTruth
{
    /// <summary>The Redis hash of a job's state (<see cref="JobKeys"/>: the job store's partitioned layout).</summary>
    public static string StateKey(string serviceId, string jobId) => new JobKeys(serviceId).Job(jobId);

    public static async Task<StoredJob> ReadAsync(IDatabase redis, string serviceId, string jobId)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var data = await redis.HashGetAsync(StateKey(serviceId, jobId), "data");
        var executions = await redis.ListLengthAsync(ChaosKeys.Executions(jobId));
        if (data.IsNullOrEmpty)
        {
            return new StoredJob(jobId, null, [], executions);
        }

        var state = JsonNode.Parse(data.ToString())!.AsObject();
        var history = (Member(state, "History") as JsonArray ?? []).Select(a => a!.AsObject()).Select(a => new StoredAttempt(
            Member(a, "Number")!.GetValue<int>(),
            DateTimeOffset.Parse(Member(a, "StartedAt")!.GetValue<string>(), CultureInfo.InvariantCulture),
            ParseEnum<AttemptOutcome>(Member(a, "Outcome")),
            Member(a, "Silo")?.GetValue<string>() ?? string.Empty)).ToList();
        return new StoredJob(jobId, ParseEnum<JobStatus>(Member(state, "Status")), history, executions);
    }

    // The storage serializer's naming and enum format are its own business: accept either case and either form.
    private static JsonNode? Member(JsonObject json, string name) =>
        json.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    private static T ParseEnum<T>(JsonNode? node) where T : struct, Enum => node?.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.Number => (T)Enum.ToObject(typeof(T), node.GetValue<int>()),
        System.Text.Json.JsonValueKind.String => Enum.Parse<T>(node.GetValue<string>(), ignoreCase: true),
        _ => throw new FormatException($"Cannot read a {typeof(T).Name} from {node?.ToJsonString() ?? "nothing"}."),
    };
}
