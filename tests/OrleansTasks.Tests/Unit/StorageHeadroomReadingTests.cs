using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
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
        using var headroom = new StorageHeadroom();
        Assert.False(headroom.Full);
        var reading = headroom.Record(used, max, 0.9);
        Assert.Equal(full, reading.AboveWatermark);
        Assert.Equal(full, headroom.Full);
        Assert.Contains($"{used} of maxmemory {max}", reading.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLastReadingIsExportedAsGaugesAndNothingBeforeTheFirst()
    {
        // A meter factory of its own: silos of other tests in this process export the same instruments.
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var headroom = new StorageHeadroom(meters);
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StorageHeadroom.MeterName && instrument.Meter.Scope == meters && instrument.Name.StartsWith("orleanstasks.redis.memory.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => seen[instrument.Name] = value);
        listener.Start();

        listener.RecordObservableInstruments();
        Assert.Empty(seen);

        headroom.Record(950, 1000, 0.9);
        listener.RecordObservableInstruments();
        Assert.Equal(950, seen["orleanstasks.redis.memory.used"]);
        Assert.Equal(1000, seen["orleanstasks.redis.memory.max"]);
        Assert.Equal(1, seen["orleanstasks.redis.memory.refusing"]);
    }
}
