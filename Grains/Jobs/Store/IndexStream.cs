using System.Globalization;
using StackExchange.Redis;

namespace OrleansTasks.Jobs.Store;

/// <summary>
/// What one partition (or one index set) answered to a listing call: matching entries newest first, and whether it has
/// more. When it stopped early (enough entries, or a scan budget spent), everything it did not return lies after its
/// frontier.
/// </summary>
internal sealed record IndexStream(bool Done, JobCursor? Frontier, IReadOnlyList<JobCursor> Entries)
{
    /// <summary>Reads the per-partition answers of <see cref="RedisJobScripts.List"/>.</summary>
    public static IEnumerable<IndexStream> Parse(RedisResult[] reply)
    {
        var i = 0;
        while (i < reply.Length)
        {
            var done = (int)reply[i++] == 1;
            var frontierMs = (string?)reply[i++];
            var frontierId = (string?)reply[i++];
            var count = (int)reply[i++];
            var entries = new List<JobCursor>(count);
            for (var n = 0; n < count; n++)
            {
                var id = (string)reply[i++]!;
                entries.Add(new JobCursor(ParseMs((string)reply[i++]!), id));
            }

            var frontier = string.IsNullOrEmpty(frontierMs) ? (JobCursor?)null : new JobCursor(ParseMs(frontierMs), frontierId!);
            yield return new IndexStream(done, frontier, entries);
        }
    }

    /// <summary>
    /// The next page of ids over all sets, and the cursor after it: only entries that no set could still be hiding
    /// something newer than are given, so a page may be short while a cursor follows.
    /// </summary>
    public static (IReadOnlyList<string> Ids, JobCursor? Next) Merge(IReadOnlyCollection<IndexStream> streams, int limit)
    {
        // The newest frontier among sets that stopped early bounds what can be given now.
        JobCursor? bound = null;
        foreach (var stream in streams.Where(s => !s.Done && s.Frontier is not null))
        {
            if (bound is not { } b || b.IsAfter(stream.Frontier!.Value.CreatedMs, stream.Frontier.Value.Id) is false)
            {
                bound = stream.Frontier;
            }
        }

        // An id is in one set of a partition unless the index is damaged (the reindex command's to mend): listed once.
        var ordered = streams.SelectMany(s => s.Entries)
            .OrderByDescending(e => e.CreatedMs).ThenByDescending(e => e.Id, StringComparer.Ordinal).DistinctBy(e => e.Id).ToList();
        var page = ordered.Where(e => bound is not { } b || !b.IsAfter(e.CreatedMs, e.Id)).Take(limit).ToList();
        var more = ordered.Count > page.Count || bound is not null;
        JobCursor? next = !more ? null
            : page.Count == limit ? page[^1]
            : bound;
        return ([.. page.Select(e => e.Id)], next);
    }

    /// <summary>Counts by walking the listing (for filters the index cannot count, such as an id prefix).</summary>
    public static async Task<long> CountByWalkingAsync(IJobStore store, JobFilter filter)
    {
        long count = 0;
        await foreach (var page in PagesAsync(store, filter, 500))
        {
            count += page.Items.Count;
        }

        return count;
    }

    /// <summary>Every page of the listing for <paramref name="filter"/>, walked with its stable cursor.</summary>
    public static async IAsyncEnumerable<JobPage> PagesAsync(IJobStore store, JobFilter filter, int pageSize)
    {
        ArgumentNullException.ThrowIfNull(store);
        JobCursor? cursor = null;
        do
        {
            var page = await store.ListAsync(filter, pageSize, cursor);
            yield return page;
            cursor = page.NextCursor is { } next && JobCursor.TryDecode(next, out var c) ? c : null;
        }
        while (cursor is not null);
    }

    private static long ParseMs(string score) => (long)double.Parse(score, CultureInfo.InvariantCulture);
}
