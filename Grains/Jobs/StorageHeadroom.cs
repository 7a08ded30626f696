using System.Diagnostics.Metrics;

namespace OrleansTasks.Jobs;

/// <summary>
/// The job storage's memory as last measured on this silo (Redis <c>used_memory</c> and <c>maxmemory</c>), and
/// whether new enqueues are refused for it. Updated by the silo's monitor; unmeasured means "not full". Exported as
/// the gauges <c>orleanstasks.redis.memory.used</c> and <c>orleanstasks.redis.memory.max</c> (bytes) and
/// <c>orleanstasks.redis.memory.refusing</c> (1 while new jobs are refused) of the meter <see cref="MeterName"/>.
/// </summary>
public sealed class StorageHeadroom : IDisposable
{
    public const string MeterName = "OrleansTasks";

    private readonly Meter _meter;
    private volatile Reading? _last;

    public StorageHeadroom(IMeterFactory? meters = null)
    {
        _meter = meters?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableGauge("orleanstasks.redis.memory.used", () => Observe(r => r.UsedBytes), "By", "Redis used_memory as last read by this silo");
        _meter.CreateObservableGauge("orleanstasks.redis.memory.max", () => Observe(r => r.MaxBytes), "By", "Redis maxmemory (0: none) as last read by this silo");
        _meter.CreateObservableGauge("orleanstasks.redis.memory.refusing", () => Observe(r => r.AboveWatermark ? 1 : 0), null,
            "1 while new enqueues are refused above Jobs:RedisMemoryHighWatermark");
    }

    /// <summary>The last reading, or null before the first (or without Redis).</summary>
    public Reading? Last => _last;

    /// <summary>True when new jobs must be refused.</summary>
    public bool Full => _last is { AboveWatermark: true };

    /// <summary>Records a measurement against <paramref name="watermark"/> (a fraction of <c>maxmemory</c>).</summary>
    public Reading Record(long usedBytes, long maxBytes, double watermark)
    {
        var reading = new Reading(usedBytes, maxBytes, watermark);
        _last = reading;
        return reading;
    }

    public void Dispose() => _meter.Dispose();

    // Nothing is reported before the first reading (or without Redis), rather than a misleading 0.
    private IEnumerable<Measurement<long>> Observe(Func<Reading, long> value) =>
        _last is { } reading ? [new Measurement<long>(value(reading))] : [];

    /// <summary>One measurement. Without a <c>maxmemory</c> (0) nothing is ever above the watermark.</summary>
    public sealed record Reading(long UsedBytes, long MaxBytes, double Watermark)
    {
        public bool AboveWatermark => MaxBytes > 0 && UsedBytes >= MaxBytes * Watermark;

        /// <summary>Why new jobs are refused, for the 503 problem details.</summary>
        public string Reason =>
            $"Redis memory is above its high watermark: {UsedBytes} of maxmemory {MaxBytes} bytes used, watermark {Watermark:P0} (Jobs:RedisMemoryHighWatermark). " +
            "New jobs are refused so that jobs already accepted can still record their outcomes; retry later, or raise maxmemory.";
    }
}
