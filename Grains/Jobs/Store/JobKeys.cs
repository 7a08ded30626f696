using System.Text;

namespace OrleansTasks.Jobs.Store;

/// <summary>
/// Where a job and its index entries live in Redis. Jobs are spread over <see cref="Partitions"/> partitions by a
/// hash of their id; every key of a partition carries the partition's hash tag (<c>{service/jobs/07}</c>), so on
/// Redis Cluster a partition is one hash slot and one script may update a job and its index entries atomically.
/// Listings merge the partitions; counts sum them.
/// </summary>
public sealed class JobKeys
{
    /// <summary>Fixed: changing it moves every job to another key (the reindex command would have to migrate them).</summary>
    public const int Partitions = 16;

    private readonly string[] _prefixes;

    public JobKeys(string serviceId)
    {
        ArgumentNullException.ThrowIfNull(serviceId);
        ServiceId = serviceId;

        // A brace inside the service id would end the hash tag early.
        var tagSafe = serviceId.Replace('{', '(').Replace('}', ')');
        _prefixes = [.. Enumerable.Range(0, Partitions).Select(p => $"{{{tagSafe}/jobs/{p:D2}}}/")];
    }

    public string ServiceId { get; }

    /// <summary>The partition of a job id: FNV-1a over its UTF-8 bytes, stable across processes and versions.</summary>
    public static int PartitionOf(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        // Ids are ASCII (JobId.Validate), so their chars are their UTF-8 bytes; anything else is hashed as UTF-8.
        var hash = 2166136261u;
        if (System.Text.Ascii.IsValid(id))
        {
            foreach (var c in id)
            {
                hash = unchecked((hash ^ (byte)c) * 16777619u);
            }
        }
        else
        {
            foreach (var b in Encoding.UTF8.GetBytes(id))
            {
                hash = unchecked((hash ^ b) * 16777619u);
            }
        }

        return (int)(hash % Partitions);
    }

    /// <summary>The key prefix of partition <paramref name="partition"/>, ending in a slash.</summary>
    public string Prefix(int partition) => _prefixes[partition];

    public string Job(string id) => JobIn(Prefix(PartitionOf(id)), id);

    /// <summary>The job key under a partition prefix already computed (the write and delete scripts need both).</summary>
    public static string JobIn(string prefix, string id) => prefix + "job/" + id;

    public string ByStatus(int partition, JobStatus status) => Prefix(partition) + "s/" + status.ToWireName();

    public string ByStatusAndType(int partition, JobStatus status, string type) => Prefix(partition) + "st/" + status.ToWireName() + "/" + type;

    public string Expiries(int partition) => Prefix(partition) + "exp";

    /// <summary>The prefix of each job's live-events pub/sub channel (<see cref="JobChange.Channel"/>).</summary>
    public string Events => JobChange.ChannelPrefix(ServiceId);

    /// <summary>Where the stock Orleans Redis storage kept a job before this layout: <c>{ServiceId}/state/job/{id}/job</c>.</summary>
    public string Legacy(string id) => $"{ServiceId}/state/job/{id}/job";

    /// <summary>The SCAN pattern of <see cref="Legacy"/> keys.</summary>
    public string LegacyPattern => $"{ServiceId}/state/job/*/job";

    /// <summary>
    /// The index sets a filter reads in one partition: one per status asked for (every status when none), of its
    /// type when it names one. Each job is in exactly one status set and one status-and-type set, so "all jobs" and
    /// "jobs of a type" need no sets of their own, and a write updates two sets rather than four.
    /// </summary>
    public IReadOnlyList<string> SetsFor(int partition, JobFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var statuses = filter.Statuses.Count > 0 ? filter.Statuses.Distinct() : Enum.GetValues<JobStatus>();
        return filter.Type is { } type
            ? [.. statuses.Select(s => ByStatusAndType(partition, s, type))]
            : [.. statuses.Select(s => ByStatus(partition, s))];
    }
}
