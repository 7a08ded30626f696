using Orleans.Concurrency;

namespace OrleansTasks.Jobs;

/// <summary>What a bulk operation does to each matching job. Stored with the operation: never renumber.</summary>
[GenerateSerializer, Alias("OrleansTasks.BulkAction")]
public enum BulkAction
{
    /// <summary><see cref="IJobGrain.CancelAsync"/>: waiting jobs become cancelled, running ones are asked to stop.</summary>
    Cancel = 0,

    /// <summary><see cref="IJobGrain.RequeueAsync"/>: finished jobs run again as a new round.</summary>
    Requeue = 1,

    /// <summary><see cref="IJobGrain.DeleteAsync"/>: finished jobs are removed.</summary>
    Delete = 2,
}

/// <summary>Helpers over <see cref="BulkAction"/>.</summary>
public static class BulkActionExtensions
{
    /// <summary>The lowercase wire name used by the HTTP API (<c>cancel</c>, <c>requeue</c>, <c>delete</c>).</summary>
    public static string ToWireName(this BulkAction action) => action switch
    {
        BulkAction.Cancel => "cancel",
        BulkAction.Requeue => "requeue",
        BulkAction.Delete => "delete",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    /// <summary>The action named <paramref name="name"/> (any letter case), or null.</summary>
    public static BulkAction? FromWireName(string? name)
    {
        foreach (var action in Enum.GetValues<BulkAction>())
        {
            if (string.Equals(action.ToWireName(), name, StringComparison.OrdinalIgnoreCase))
            {
                return action;
            }
        }

        return null;
    }
}

/// <summary>
/// Where a bulk operation stands. <see cref="Matched"/> is counted when it starts; <see cref="Done"/> and
/// <see cref="Failed"/> grow page by page until <see cref="Completed"/>. Their sum may differ from Matched when jobs
/// change while it runs (a job that stops matching before its page is reached is neither done nor failed).
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.BulkOperationStatus")]
public sealed record BulkOperationStatus
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required BulkAction Action { get; init; }
    [Id(2)] public required JobFilter Filter { get; init; }
    [Id(3)] public bool Completed { get; init; }
    [Id(4)] public long Matched { get; init; }

    /// <summary>Jobs the action reached its goal for (a running job's cancel counts once accepted).</summary>
    [Id(5)] public long Done { get; init; }

    /// <summary>Jobs it was refused for (not found, or their state did not allow it) or could not be applied to.</summary>
    [Id(6)] public long Failed { get; init; }
    [Id(7)] public DateTimeOffset CreatedAt { get; init; }
    [Id(8)] public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The silo the operation is held on now (it moves when that silo goes away).</summary>
    [Id(9)] public string? Silo { get; init; }
}

/// <summary>
/// One bulk cancel, requeue or delete over every job a filter matches, keyed by the operation id. It walks the job
/// index page by page, survives silo crashes (a reminder resumes it from its last stored page), and covers the jobs
/// created up to its start.
/// </summary>
[Alias("OrleansTasks.IBulkOperationGrain")]
public interface IBulkOperationGrain : IGrainWithStringKey
{
    /// <summary>
    /// Counts the matching jobs, stores the operation and starts it; returns once it is stored. Calling it again
    /// with the same action and filter returns the operation as it stands; with a different one it throws
    /// <see cref="InvalidOperationException"/>.
    /// </summary>
    [Alias("Start")]
    Task<BulkOperationStatus> StartAsync(BulkAction action, JobFilter filter);

    /// <summary>The operation now, or null when none has this id. Never waits behind a page being processed.</summary>
    [Alias("Get"), AlwaysInterleave, ReadOnly]
    Task<BulkOperationStatus?> GetAsync();
}
