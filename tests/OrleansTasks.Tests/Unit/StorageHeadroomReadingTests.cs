using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Unit;

public sealed class StorageHeadroomReadingTests
{
    [Theory]
    [InlineData(899, 1000, false)]
    [InlineData(900, 1000, true)]
    [InlineData(1000, 1000, true)]
    [InlineData(5_000_000, 0, false)]
    public void NewJobsAreRefusedFromTheWatermarkUpAndNeverWithoutAMaxmemory(long used, long max, bool full)
    {
        var headroom = new StorageHeadroom();
        Assert.False(headroom.Full);
        var reading = headroom.Record(used, max, 0.9);
        Assert.Equal(full, reading.AboveWatermark);
        Assert.Equal(full, headroom.Full);
        Assert.Contains($"{used} of maxmemory {max}", reading.Reason, StringComparison.Ordinal);
    }
}
