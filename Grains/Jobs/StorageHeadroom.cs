namespace OrleansTasks.Jobs;

/// <summary>
/// The job storage's memory as last measured on this silo (Redis <c>used_memory</c> and <c>maxmemory</c>), and
/// whether new enqueues are refused for it. Updated by the silo's monitor; unmeasured means "not full".
/// </summary>
public sealed class StorageHeadroom
{
    private volatile Reading? _last;

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
