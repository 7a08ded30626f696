using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Unit;

/// <summary>How pages are cut from the answers of several index sets, and the cursor's round trip.</summary>
public sealed class JobListingMergeTests
{
    private static JobCursor At(long ms, string id) => new(ms, id);

    [Fact]
    public void ACursorRoundTripsAndRejectsWhatNoListingReturned()
    {
        var cursor = At(1_764_460_000_123, "job:a-1");
        Assert.True(JobCursor.TryDecode(cursor.Encode(), out var back));
        Assert.Equal(cursor, back);
        Assert.False(JobCursor.TryDecode("not-a-cursor", out _));
        Assert.False(JobCursor.TryDecode(string.Empty, out _));
    }

    [Fact]
    public void EntriesComeNewestFirstThenByIdDescendingAndTheCursorIsTheLastGiven()
    {
        var streams = new[]
        {
            new IndexStream(true, null, [At(30, "b"), At(10, "a")]),
            new IndexStream(true, null, [At(30, "c"), At(20, "d")]),
        };
        var (ids, next) = IndexStream.Merge(streams, 3);
        Assert.Equal(["c", "b", "d"], ids);
        Assert.Equal(At(20, "d"), next);
    }

    [Fact]
    public void ASetThatStoppedEarlyHoldsBackEverythingOlderThanItsFrontier()
    {
        var streams = new[]
        {
            // Looked at entries down to (25, "x") without finishing: it may hold more just below that.
            new IndexStream(false, At(25, "x"), [At(40, "e")]),
            new IndexStream(true, null, [At(30, "f"), At(20, "g"), At(10, "h")]),
        };
        var (ids, next) = IndexStream.Merge(streams, 10);
        Assert.Equal(["e", "f"], ids);
        Assert.Equal(At(25, "x"), next);
    }

    [Fact]
    public void TheLastPageHasNoCursor()
    {
        var (ids, next) = IndexStream.Merge([new IndexStream(true, null, [At(5, "z")])], 10);
        Assert.Equal(["z"], ids);
        Assert.Null(next);
    }

    [Fact]
    public void AnEmptyPageStillMovesTheCursorPastAFruitlessScan()
    {
        var (ids, next) = IndexStream.Merge([new IndexStream(false, At(7, "q"), [])], 10);
        Assert.Empty(ids);
        Assert.Equal(At(7, "q"), next);
    }
}
