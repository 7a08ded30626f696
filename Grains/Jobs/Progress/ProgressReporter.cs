namespace OrleansTasks.Jobs.Progress;

/// <summary>
/// Takes one attempt's progress reports from its handler (any thread) and stores them through the job grain at most
/// once per <see cref="Interval"/>, always ending with the last one: a report that arrives within the interval waits
/// (only the newest waiting one is kept) and is stored when the interval has passed, or with the attempt's outcome
/// (<see cref="Close"/>). Stores run on the grain's scheduler, so they are ordinary transitions of the job.
/// </summary>
internal sealed class ProgressReporter(TaskScheduler grain, TimeProvider time, Func<JobProgress, Task> store)
{
    /// <summary>The largest progress detail, as JSON: progress is written often and shown in every read of the job.</summary>
    public const int MaxDetailBytes = 4096;

    /// <summary>At most one stored report per this interval, per job.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private JobProgress? _pending;
    private bool _scheduled;
    private bool _closed;
    private long? _lastStored;

    public void Report(double percent, string? detailJson)
    {
        var progress = new JobProgress(percent, detailJson, time.GetUtcNow());
        lock (_lock)
        {
            if (_closed)
            {
                // The attempt has ended (a timeout, a cancel): its handler's reports are stale.
                return;
            }

            _pending = progress;
            if (_scheduled)
            {
                return;
            }

            _scheduled = true;
        }

        _ = Task.Factory.StartNew(FlushAsync, CancellationToken.None, TaskCreationOptions.None, grain).Unwrap();
    }

    /// <summary>Stops taking reports and returns the one not stored yet, which goes with the attempt's outcome.</summary>
    public JobProgress? Close()
    {
        lock (_lock)
        {
            _closed = true;
            var pending = _pending;
            _pending = null;
            return pending;
        }
    }

    // Runs on the grain's scheduler.
    private async Task FlushAsync()
    {
        if (_lastStored is { } last && Interval - time.GetElapsedTime(last) is { Ticks: > 0 } wait)
        {
            await Task.Delay(wait, time);
        }

        JobProgress? next;
        lock (_lock)
        {
            next = _closed ? null : _pending;
            _pending = null;
        }

        if (next is not null)
        {
            _lastStored = time.GetTimestamp();
            await store(next);
        }

        lock (_lock)
        {
            if (_closed || _pending is null)
            {
                _scheduled = false;
                return;
            }
        }

        // A report came in while this one was stored: it waits its interval in turn.
        _ = FlushAsync();
    }
}
