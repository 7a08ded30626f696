namespace OrleansTasks.Infrastructure;

/// <summary>
/// The periodic work of a cluster-wide sweeper grain (retention, recovery): one sweep at a time, whether started by
/// its timer or asked for now, on a keep-alive, non-interleaving grain timer. A failed sweep is reported and the
/// next tick tries again, so an outage never stops the sweeper for good.
/// </summary>
internal sealed class PeriodicSweep(Func<Task<long>> sweep, Action<Exception> failed)
{
    private IGrainTimer? _timer;
    private Task<long>? _current;

    /// <summary>Starts the timer of <paramref name="grain"/> once; later calls do nothing.</summary>
    public void EnsureTimer(IGrainBase grain, TimeSpan every) => _timer ??= grain.RegisterGrainTimer(async () =>
    {
        try
        {
            await RunOnceAsync();
        }
        catch (Exception ex)
        {
            failed(ex);
        }
    }, new GrainTimerCreationOptions(every, every) { KeepAlive = true, Interleave = false });

    /// <summary>The sweep in progress, or a new one.</summary>
    public Task<long> RunOnceAsync()
    {
        if (_current is not { IsCompleted: false })
        {
            _current = sweep();
        }

        return _current;
    }
}
