using OrleansTasks.Jobs;

namespace OrleansTasks.Schedules;

/// <summary>The ids of every schedule, for <c>GET /schedules</c>. Schedules are few (hundreds), so one grain holds them all.</summary>
[GenerateSerializer, Alias("OrleansTasks.ScheduleDirectoryState")]
public sealed class ScheduleDirectoryState
{
    [Id(0)] public SortedSet<string> Ids { get; set; } = new(StringComparer.Ordinal);
}

[GrainType("schedule-directory")]
public sealed class ScheduleDirectoryGrain(
    [PersistentState("directory", StorageNames.Schedules)] IPersistentState<ScheduleDirectoryState> directory) : Grain, IScheduleDirectoryGrain
{
    public async Task AddAsync(string id)
    {
        if (directory.State.Ids.Add(id))
        {
            await directory.WriteStateAsync();
        }
    }

    public async Task RemoveAsync(string id)
    {
        if (directory.State.Ids.Remove(id))
        {
            await directory.WriteStateAsync();
        }
    }

    public Task<(IReadOnlyList<string> Ids, bool More)> ListAsync(string? after, int limit)
    {
        var view = after is null ? directory.State.Ids : directory.State.Ids.GetViewBetween(after, directory.State.Ids.Max ?? after);
        var page = view.Where(id => after is null || string.CompareOrdinal(id, after) > 0).Take(limit + 1).ToList();
        IReadOnlyList<string> ids = [.. page.Take(limit)];
        return Task.FromResult((ids, page.Count > limit));
    }
}
