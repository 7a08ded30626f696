namespace OrleansTasks.Infrastructure;

/// <summary>Start-up calls into the cluster that must eventually succeed: run in the background, retried with a growing pause.</summary>
public static class BackgroundRetry
{
    /// <summary>Calls <paramref name="call"/> until it succeeds or <paramref name="stopping"/> fires, pausing 1, 2, ... 30 s between tries.</summary>
    public static void Run(Func<Task> call, Action<Exception, int> onFailure, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(onFailure);
        _ = Task.Run(async () =>
        {
            for (var attempt = 1; !stopping.IsCancellationRequested; attempt++)
            {
                try
                {
                    await call();
                    return;
                }
                catch (Exception ex) when (!stopping.IsCancellationRequested)
                {
                    onFailure(ex, attempt);
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt)), stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }, CancellationToken.None);
    }
}
