using Microsoft.Extensions.Options;

namespace OrleansTasks.Jobs;

/// <summary>How one attempt ended, as the runner saw it.</summary>
public sealed record AttemptResult(AttemptOutcome Outcome, string? ResultJson, JobError? Error, bool Permanent);

/// <summary>
/// The silo's worker pool: at most <see cref="JobsOptions.MaxConcurrency"/> handlers at once, waiting callers served
/// first in, first out. Handlers run on the thread pool so that a blocking or CPU-bound handler never holds a grain's
/// turn and queries keep answering.
/// </summary>
public sealed class JobRunner(IOptions<JobsOptions> options, IServiceProvider services, TimeProvider time) : IDisposable
{
    // SemaphoreSlim queues async waiters in arrival order, which gives the FIFO start order jobs expect.
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrency, options.Value.MaxConcurrency);

    private int _waiting;

    /// <summary>Handlers running on this silo now.</summary>
    public int Running => options.Value.MaxConcurrency - _slots.CurrentCount;

    /// <summary>Jobs on this silo waiting for a slot now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>A slot if one is free right now, else null.</summary>
    public IDisposable? TryAcquireSlot() => _slots.Wait(0) ? new Lease(_slots) : null;

    /// <summary>Waits for a free slot; dispose the lease to free it.</summary>
    public async Task<IDisposable> AcquireSlotAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _slots.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        return new Lease(_slots);
    }

    /// <summary>
    /// Runs one attempt with its timeout. <paramref name="handOff"/> fires when the silo hands the job on; the
    /// attempt then ends as <see cref="AttemptOutcome.HandedOff"/>.
    /// </summary>
    public async Task<AttemptResult> RunAsync(JobTypeDefinition definition, string payloadJson, JobContext context,
        TimeSpan timeout, CancellationToken handOff)
    {
        using var timeoutCts = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeoutCts.Token, handOff);
        var work = Task.Run(
            async () => await definition.Execute(services, definition.DeserializePayload(payloadJson), context, linked.Token).ConfigureAwait(false),
            CancellationToken.None);
        try
        {
            // WaitAsync stops waiting at the deadline even for a handler that ignores its token; such a handler
            // runs on unobserved and its late result is discarded.
            var result = await work.WaitAsync(linked.Token);
            return new AttemptResult(AttemptOutcome.Succeeded, result, null, false);
        }
        catch (OperationCanceledException) when (handOff.IsCancellationRequested)
        {
            return new AttemptResult(AttemptOutcome.HandedOff, null, new JobError("HandedOff", "The silo shut down and handed the job on."), false);
        }
        catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested)
        {
            return new AttemptResult(AttemptOutcome.TimedOut, null,
                new JobError(nameof(TimeoutException), $"The attempt exceeded its timeout of {timeout}."), false);
        }
        catch (Exception ex)
        {
            var permanent = definition.IsPermanent(ex) || ex is System.Text.Json.JsonException;
            return new AttemptResult(AttemptOutcome.Failed, null, new JobError(ex.GetType().Name, ex.Message), permanent);
        }
    }

    public void Dispose() => _slots.Dispose();

    private sealed class Lease(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }
}
