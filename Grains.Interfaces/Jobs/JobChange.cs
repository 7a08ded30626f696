using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansTasks.Jobs;

/// <summary>
/// What one stored transition of a job changed, as the job store announces it to the API processes (one Redis
/// PUBLISH per write, from inside the write script): enough to send a live client its <c>status</c>,
/// <c>attempt</c> and <c>progress</c> events without reading the job again. Never the payload or result.
/// </summary>
public sealed record JobChange
{
    public required string Id { get; init; }

    /// <summary>The job's stored version after this write (<see cref="JobSnapshot.Version"/>).</summary>
    public required long Version { get; init; }

    public required JobStatus Status { get; init; }
    public int Attempts { get; init; }
    public int Round { get; init; } = 1;
    public DateTimeOffset? NextAttemptAt { get; init; }
    public JobError? LastError { get; init; }

    /// <summary>The newest attempt of the history, if any.</summary>
    public JobAttempt? LastAttempt { get; init; }
    public JobProgress? Progress { get; init; }

    /// <summary>
    /// The start of every job's pub/sub channel, <c>{ServiceId}/events/</c>: a job's changes go to that prefix followed
    /// by its id, so an API process hears only the jobs it has open streams for.
    /// </summary>
    public static string ChannelPrefix(string serviceId) => serviceId + "/events/";

    /// <summary>The pub/sub channel of job <paramref name="id"/>'s changes: <c>{ServiceId}/events/{id}</c>.</summary>
    public static string Channel(string serviceId, string id) => ChannelPrefix(serviceId) + id;

    public string ToJson() => JsonSerializer.Serialize(this, JobChangeJson.Default.JobChange);

    /// <summary>The change a message holds; null for a message that is not one (another release's, garbage).</summary>
    public static JobChange? TryParse(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, JobChangeJson.Default.JobChange);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The change a snapshot stands for (a stream's starting point).</summary>
    public static JobChange Of(JobSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return new JobChange
        {
            Id = snapshot.Id,
            Version = snapshot.Version,
            Status = snapshot.Status,
            Attempts = snapshot.Attempts,
            Round = snapshot.Round,
            NextAttemptAt = snapshot.NextAttemptAt,
            LastError = snapshot.LastError,
            LastAttempt = snapshot.History.Count > 0 ? snapshot.History[^1] : null,
            Progress = snapshot.Progress,
        };
    }
}

/// <summary>
/// The wire format of <see cref="JobChange"/>, generated at build time: every stored write of a job serializes one,
/// and reflection-based serialization was a visible part of a write's CPU.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobChange))]
internal sealed partial class JobChangeJson : JsonSerializerContext;
