namespace OrleansTasks.Jobs.Bulk;

/// <summary>
/// A bulk operation as stored (System.Text.Json, matched by property name: add properties, never rename one).
/// Progress is stored once per page, with the page itself while it is being applied, so a crash redoes at most that
/// page and knows it is a redo.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.BulkOperationState")]
public sealed record BulkOperationState
{
    [Id(0)] public BulkAction Action { get; init; }
    [Id(1)] public JobFilter Filter { get; init; } = new();

    /// <summary>When it started; only jobs created up to this instant are covered.</summary>
    [Id(2)] public DateTimeOffset CreatedAt { get; init; }
    [Id(3)] public long Matched { get; init; }
    [Id(4)] public long Done { get; init; }
    [Id(5)] public long Failed { get; init; }
    [Id(6)] public bool Completed { get; init; }
    [Id(7)] public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The listing position after the last finished page; null before the first.</summary>
    [Id(8)] public string? Cursor { get; init; }

    /// <summary>The page being applied, as listed; null between pages.</summary>
    [Id(9)] public IReadOnlyList<BulkPageItem>? Page { get; init; }

    /// <summary>The listing position after <see cref="Page"/>; null when it is the last page.</summary>
    [Id(10)] public string? PageNextCursor { get; init; }

    /// <summary>How many times applying <see cref="Page"/> has begun (more than one: a redo after a crash or an outage).</summary>
    [Id(11)] public int PageTries { get; init; }
}

/// <summary>A job of a page, with the round it was in when listed (a redone requeue checks whether it moved on).</summary>
[GenerateSerializer, Immutable, Alias("OrleansTasks.BulkPageItem")]
public sealed record BulkPageItem([property: Id(0)] string Id, [property: Id(1)] int Round);
