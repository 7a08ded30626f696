using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Observability;

namespace OrleansTasks.Jobs;

/// <summary>How one attempt ended, as the runner saw it.</summary>
/// <param name="Outcome">How the attempt ended.</param>
/// <param name="ResultJson">The handler's result as JSON, when it succeeded.</param>
/// <param name="Error">What went wrong, when it did not.</param>
/// <param name="Permanent">True when retrying cannot help: the job fails at once.</param>
/// <param name="Abandoned">
/// The handler's task when the attempt ended (timeout, hand-off) while the handler ignored its token and still runs;
/// it holds its worker slot until it ends.
/// </param>
public sealed record AttemptResult(AttemptOutcome Outcome, string? ResultJson, JobError? Error, bool Permanent, Task? Abandoned = null);

/// <summary>
/// The silo's worker pool: at most <see cref="JobsOptions.MaxConcurrency"/> handlers at once, waiting callers served
/// first in, first out. Handlers run on the thread pool so that a blocking or CPU-bound handler never holds a grain's
/// turn and queries keep answering.
/// </summary>
/// <remarks>
/// A slot is held until the handler's code has ended, not until its attempt has: a handler that ignores its token
/// after a timeout or hand-off is "stuck", keeps its slot (so <see cref="JobsOptions.MaxConcurrency"/> is a true bound
/// on running handler code) and is counted in <see cref="Stuck"/>.
/// </remarks>
public sealed partial class JobRunner(IOptions<JobsOptions> options, IServiceProvider services,
    [FromKeyedServices(JobClock.Key)] TimeProvider time, ILogger<JobRunner> logger, JobMetrics metrics) : IDisposable
{
    // One timer can wait at most 2^32-2 ms (~49.7 days); longer timeouts re-arm (see Deadline).
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    // SemaphoreSlim queues async waiters in arrival order, which gives the FIFO start order jobs expect.
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrency, options.Value.MaxConcurrency);

    private int _waiting;
    private int _stuck;

    /// <summary>Slots taken on this silo now: running handlers, stuck ones included.</summary>
    public int Running => options.Value.MaxConcurrency - _slots.CurrentCount;

    /// <summary>Jobs on this silo waiting for a slot now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Handlers still running after their attempt ended (they ignored their cancellation token).</summary>
    public int Stuck => Volatile.Read(ref _stuck);

    /// <summary>A slot if one is free right now, else null.</summary>
    public IDisposable? TryAcquireSlot() => _slots.Wait(0) ? new Lease(_slots, time.GetTimestamp()) : null;

    /// <summary>Waits for a free slot; dispose the lease to free it.</summary>
    public async Task<IDisposable> AcquireSlotAsync(CancellationToken cancellationToken)
    {
        var ready = time.GetTimestamp();
        Interlocked.Increment(ref _waiting);
        try
        {
            await _slots.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        return new Lease(_slots, ready);
    }

    /// <summary>
    /// Runs one attempt in <paramref name="slot"/>, which the runner frees when the handler's code ends.
    /// <paramref name="handOff"/> fires when the silo hands the job on; the attempt then ends as
    /// <see cref="AttemptOutcome.HandedOff"/>. <paramref name="cancel"/> fires when a client cancels the job: the
    /// handler gets <see cref="JobsOptions.CancelGrace"/> to return, and the attempt ends as
    /// <see cref="AttemptOutcome.Cancelled"/> either way.
    /// </summary>
    public async Task<AttemptResult> RunAsync(JobTypeDefinition definition, string payloadJson, JobContext context,
        TimeSpan timeout, IDisposable slot, CancellationToken handOff, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(slot);
        if (handOff.IsCancellationRequested)
        {
            // Stopping before the handler began: nothing ran, so nothing is abandoned.
            slot.Dispose();
            return HandedOff;
        }

        var started = time.GetTimestamp();
        metrics.AttemptStarted(context.Type, slot is Lease lease ? time.GetElapsedTime(lease.ReadyAt, started) : null, time.GetUtcNow() - context.PlannedStart);
        using var deadline = new Deadline(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, handOff, cancel);
        var work = Task.Run(
            async () => await definition.Execute(services, definition.DeserializePayload(payloadJson), context, linked.Token).ConfigureAwait(false),
            CancellationToken.None);
        AttemptResult result;
        try
        {
            // WaitAsync stops waiting at the deadline even for a handler that ignores its token.
            var json = await work.WaitAsync(linked.Token);
            var bytes = Encoding.UTF8.GetByteCount(json);
            result = bytes <= options.Value.MaxResultBytes
                ? new AttemptResult(AttemptOutcome.Succeeded, json, null, false)
                : new AttemptResult(AttemptOutcome.Failed, null, new JobError("ResultTooLarge",
                    $"The handler returned {bytes} bytes of JSON; the limit is {options.Value.MaxResultBytes} (Jobs:MaxResultBytes)."), Permanent: true);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The handler's token has fired; give it the grace period to wind down, then let it go.
            await ((Task)work).WaitAsync(options.Value.CancelGrace, time)
                .ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
            result = new AttemptResult(AttemptOutcome.Cancelled, null, new JobError("Cancelled", "The job was cancelled."), true);
        }
        catch (OperationCanceledException) when (handOff.IsCancellationRequested)
        {
            // A handler that honours its token needs a moment to return; only one still running after it is stuck.
            await ((Task)work).WaitAsync(HandOffGrace, time)
                .ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext | ConfigureAwaitOptions.SuppressThrowing);
            result = HandedOff;
        }
        catch (OperationCanceledException) when (deadline.Token.IsCancellationRequested)
        {
            result = new AttemptResult(AttemptOutcome.TimedOut, null,
                new JobError(nameof(TimeoutException), $"The attempt exceeded its timeout of {timeout}."), false);
        }
        catch (Exception ex)
        {
            var permanent = definition.IsPermanent(ex) || ex is System.Text.Json.JsonException;
            result = new AttemptResult(AttemptOutcome.Failed, null, new JobError(ex.GetType().Name, ex.Message), permanent);
        }

        metrics.AttemptEnded(context.Type, result, time.GetElapsedTime(started));
        if (work.IsCompleted)
        {
            slot.Dispose();
            return result;
        }

        Interlocked.Increment(ref _stuck);
        LogStuck(context.JobId, context.Type, context.Attempt, result.Outcome);
        _ = work.ContinueWith(
            (_, state) =>
            {
                var (runner, lease) = ((JobRunner, IDisposable))state!;
                Interlocked.Decrement(ref runner._stuck);
                lease.Dispose();
            },
            (this, slot), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return result with { Abandoned = work };
    }

    public void Dispose() => _slots.Dispose();

    private static readonly TimeSpan HandOffGrace = TimeSpan.FromSeconds(1);

    private static AttemptResult HandedOff { get; } =
        new(AttemptOutcome.HandedOff, null, new JobError("HandedOff", "The silo shut down and handed the job on."), false);

    [LoggerMessage(30, LogLevel.Warning, "Job {JobId} ({JobType}) attempt {Attempt} ended as {Outcome} but its handler ignored its cancellation token and still runs: it keeps its worker slot, and the job's next attempt on this silo waits for it")]
    private partial void LogStuck(string jobId, string jobType, int attempt, AttemptOutcome outcome);

    // readyAt: when the job asked for the slot (a timestamp of the job clock), the start of its queue wait.
    private sealed class Lease(SemaphoreSlim slots, long readyAt) : IDisposable
    {
        private int _released;

        public long ReadyAt => readyAt;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }

    /// <summary>A token cancelled after a timeout of any length up to <see cref="TimeSpan.MaxValue"/>.</summary>
    private sealed class Deadline : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly TimeProvider _time;
        private readonly long _start;
        private readonly TimeSpan _timeout;
        private readonly ITimer _timer;

        public Deadline(TimeSpan timeout, TimeProvider time)
        {
            _time = time;
            _timeout = timeout;
            _start = time.GetTimestamp();
            _timer = time.CreateTimer(static state => ((Deadline)state!).Tick(), this, Clamp(timeout), Timeout.InfiniteTimeSpan);
        }

        public CancellationToken Token => _cts.Token;

        public void Dispose()
        {
            _timer.Dispose();
            _cts.Dispose();
        }

        private static TimeSpan Clamp(TimeSpan delay) => delay > MaxTimerDelay ? MaxTimerDelay : delay;

        private void Tick()
        {
            var remaining = _timeout - _time.GetElapsedTime(_start);
            try
            {
                if (remaining <= TimeSpan.Zero)
                {
                    _cts.Cancel();
                }
                else
                {
                    _timer.Change(Clamp(remaining), Timeout.InfiniteTimeSpan);
                }
            }
            catch (ObjectDisposedException)
            {
                // The attempt ended while the timer fired.
            }
        }
    }
}
