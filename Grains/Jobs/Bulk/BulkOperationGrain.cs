using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Infrastructure;
using OrleansTasks.Jobs.Store;

namespace OrleansTasks.Jobs.Bulk;

/// <summary>
/// One bulk cancel, requeue or delete. It walks the job index newest first, <see cref="PageSize"/> jobs at a time
/// after a stored cursor, so it never holds more than a page in memory and no grain call lasts longer than a page.
/// Pages are applied on a keep-alive grain timer, one page per tick, so queries and reminder ticks get their turn in
/// between; a reminder (every <c>Jobs:RecoveryInterval</c>) brings the operation back on another silo after a crash,
/// and it resumes from the last page it stored.
/// </summary>
/// <remarks>
/// <para>Only jobs created up to the operation's start are covered (the listing's creation-time bound), so jobs
/// enqueued while it runs are left alone and the walk always ends.</para>
/// <para>At least once per job across a crash: the page being applied is stored before it is applied, and a crash
/// redoes it. A redo counts a job its earlier try already changed as done where that can be told: a cancel of a
/// cancelled job is done, a delete of a job that is gone is done, and a requeue skips a job whose round moved on since
/// it was listed. A job a redo cannot recognise as changed by the earlier try (for example a requeued job that has
/// already run again and been cancelled) is counted by what the redo's call answers.</para>
/// </remarks>
[GrainType("bulkop")]
public sealed partial class BulkOperationGrain(
    [PersistentState("operation", StorageNames.Operations)] IPersistentState<BulkOperationState> storage,
    IJobStore store,
    IOptions<JobsOptions> options,
    [FromKeyedServices(JobClock.Key)] TimeProvider time,
    ILogger<BulkOperationGrain> logger) : Grain, IBulkOperationGrain, IRemindable
{
    /// <summary>Jobs listed and stored per page.</summary>
    internal const int PageSize = 250;

    /// <summary>Job grain calls in flight at once: enough to keep Redis busy, few enough not to crowd out running jobs.</summary>
    internal const int Parallelism = 32;

    // After this many tries of one page that storage or the cluster kept failing, what is still undecided counts as
    // failed, so an operation cannot stall for ever on one job.
    private const int MaxPageTries = 5;

    private const string ResumeReminder = "resume";

    // Queries must never show progress that may not be stored: a failed write puts memory back, read again before the
    // next step.
    private readonly StoredState<BulkOperationState> _operation = new(storage);

    // A reminder without an operation removes itself at its tick, so removing it is best effort.
    private readonly ReminderSlot _resume = new(ResumeReminder);

    private IGrainTimer? _timer;

    private BulkOperationState? State => _operation.Current;

    private string Id => this.GetPrimaryKeyString();

    private enum Outcome
    {
        Undecided,
        Done,
        Failed,
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Found running in storage: its previous silo is gone (or it would not activate here), so carry on now rather
        // than at the next reminder tick.
        if (State is { Completed: false })
        {
            EnsureRunning();
        }

        return Task.CompletedTask;
    }

    public async Task<BulkOperationStatus> StartAsync(BulkAction action, JobFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (!Enum.IsDefined(action))
        {
            throw new ArgumentOutOfRangeException(nameof(action), action, "Not a bulk action.");
        }

        if (filter.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException($"The filter is invalid: {string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(" ", e.Value)}"))}", nameof(filter));
        }

        await _operation.RefreshIfStaleAsync();
        if (State is { } existing)
        {
            return existing.Action == action && SameFilter(existing.Filter, filter)
                ? Status(existing)
                : throw new InvalidOperationException($"Bulk operation '{Id}' already exists with a different action or filter.");
        }

        var now = time.GetUtcNow();
        var matched = await store.CountMatchingAsync(Covered(filter, now));
        var state = new BulkOperationState { Action = action, Filter = filter, CreatedAt = now, Matched = matched };
        if (matched == 0)
        {
            state = state with { Completed = true, FinishedAt = now };
        }
        else
        {
            // Reminder first: a reminder without an operation removes itself, while an operation without a reminder
            // would stop for good at the first crash.
            await _resume.SetAsync(this, options.Value.RecoveryInterval, options.Value.RecoveryInterval);
        }

        await WriteAsync(state);
        LogStarted(Id, action, matched);
        if (!state.Completed)
        {
            EnsureRunning();
        }

        return Status(state);
    }

    public Task<BulkOperationStatus?> GetAsync()
    {
        if (State is not { } state)
        {
            // Lookups of unknown operations must not pile up activations.
            DeactivateOnIdle();
            return Task.FromResult<BulkOperationStatus?>(null);
        }

        return Task.FromResult<BulkOperationStatus?>(Status(state));
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        _resume.Ticked();
        await _operation.RefreshIfStaleAsync();
        if (State is { Completed: false })
        {
            EnsureRunning();
            return;
        }

        // Finished (its own unregister failed) or never stored (the start failed after registering it).
        await UnregisterReminderAsync();
    }

    private void EnsureRunning() =>
        _timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TimeSpan.Zero, TimeSpan.Zero) { KeepAlive = true, Interleave = false });

    private void StopTimer()
    {
        _timer?.Dispose();
        _timer = null;
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _operation.RefreshIfStaleAsync();
            if (State is { Completed: false } state)
            {
                await StepAsync(state, cancellationToken);
            }
            else
            {
                StopTimer();
            }
        }
        catch (Exception exception)
        {
            // Storage or the cluster failed: resume from the stored page at the next reminder tick instead of spinning.
            LogStepFailed(exception, Id);
            StopTimer();
        }
    }

    /// <summary>Lists the next page (storing it), or applies the stored one and stores the progress.</summary>
    private async Task StepAsync(BulkOperationState state, CancellationToken cancellationToken)
    {
        if (state.Page is null)
        {
            JobCursor? after = state.Cursor is { } text && JobCursor.TryDecode(text, out var cursor) ? cursor : null;
            var page = await store.ListAsync(Covered(state.Filter, state.CreatedAt), PageSize, after);
            if (page.Items.Count == 0)
            {
                // A page may be empty while more follow (an id prefix scans a bounded stretch of the index per call).
                await (page.NextCursor is null ? CompleteAsync(state) : WriteAsync(state with { Cursor = page.NextCursor }));
                return;
            }

            state = state with
            {
                Page = [.. page.Items.Select(i => new BulkPageItem(i.Id, i.Round))],
                PageNextCursor = page.NextCursor,
                PageTries = 0,
            };
        }

        // Stored before any job is touched: a crash from here on redoes this page, and knows it is a redo.
        state = state with { PageTries = state.PageTries + 1 };
        await WriteAsync(state);
        cancellationToken.ThrowIfCancellationRequested();

        var lastTry = state.PageTries >= MaxPageTries;
        var outcomes = await ApplyAsync(state.Action, state.Page!, redo: state.PageTries > 1, lastTry);
        if (outcomes.Undecided > 0)
        {
            throw new JobStorageUnavailableException(
                $"Bulk operation '{Id}': {outcomes.Undecided} of {state.Page!.Count} jobs of a page could not be reached (try {state.PageTries} of {MaxPageTries}); the page is redone.");
        }

        state = state with
        {
            Done = state.Done + outcomes.Done,
            Failed = state.Failed + outcomes.Failed,
            Cursor = state.PageNextCursor,
            Page = null,
            PageNextCursor = null,
            PageTries = 0,
        };
        await (state.Cursor is null ? CompleteAsync(state) : WriteAsync(state));
    }

    private async Task<(int Done, int Failed, int Undecided)> ApplyAsync(BulkAction action, IReadOnlyList<BulkPageItem> page, bool redo, bool lastTry)
    {
        var results = new Outcome[page.Count];
        var next = 0;
        Exception? firstError = null;
        var errors = 0;

        // A few workers over one shared index: every continuation runs on this grain's scheduler, one at a time, so
        // the index needs no lock and at most Parallelism calls are in flight.
        async Task WorkAsync()
        {
            while (next < page.Count)
            {
                var i = next++;
                try
                {
                    results[i] = await ApplyOneAsync(action, page[i], redo);
                }
                catch (Exception exception) when (IsTransient(exception) && !lastTry)
                {
                    results[i] = Outcome.Undecided;
                }
                catch (Exception exception)
                {
                    firstError ??= exception;
                    errors++;
                    results[i] = Outcome.Failed;
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Min(Parallelism, page.Count)).Select(_ => WorkAsync()));
        if (firstError is not null)
        {
            LogJobsFailed(firstError, Id, errors);
        }

        return (results.Count(r => r == Outcome.Done), results.Count(r => r == Outcome.Failed), results.Count(r => r == Outcome.Undecided));
    }

    private async Task<Outcome> ApplyOneAsync(BulkAction action, BulkPageItem item, bool redo)
    {
        var job = GrainFactory.GetGrain<IJobGrain>(item.Id);
        switch (action)
        {
            case BulkAction.Cancel:
                // Cancelling a cancelled job answers done, so a redo counts the earlier try's work as done.
                return Counted((await job.CancelAsync()).Outcome, goneIsDone: false);
            case BulkAction.Delete:
                // A job already gone is what a delete asks for; on a redo it is most likely this operation's own work.
                return Counted((await job.DeleteAsync()).Outcome, goneIsDone: true);
            case BulkAction.Requeue:
                if (redo && await job.GetSnapshotAsync() is { } now && now.Round > item.Round)
                {
                    // Requeued since it was listed (by the earlier try): requeueing again would run it twice more.
                    return Outcome.Done;
                }

                return Counted((await job.RequeueAsync()).Outcome, goneIsDone: false);
            default:
                throw new InvalidOperationException($"Unknown bulk action {action}.");
        }
    }

    private static Outcome Counted(JobCommandOutcome outcome, bool goneIsDone) => outcome switch
    {
        JobCommandOutcome.Done or JobCommandOutcome.Accepted => Outcome.Done,
        JobCommandOutcome.NotFound when goneIsDone => Outcome.Done,
        _ => Outcome.Failed,
    };

    // Failures that say nothing about the job itself: storage or the cluster did not answer.
    private static bool IsTransient(Exception exception) =>
        exception is JobStorageUnavailableException or TimeoutException or OrleansMessageRejectionException;

    private async Task CompleteAsync(BulkOperationState state)
    {
        var completed = state with { Completed = true, FinishedAt = time.GetUtcNow(), Page = null, PageNextCursor = null, PageTries = 0 };
        await WriteAsync(completed);
        StopTimer();
        LogCompleted(Id, completed.Action, completed.Matched, completed.Done, completed.Failed);

        // Should this fail, the next tick finds the operation completed and tries again.
        await UnregisterReminderAsync();
    }

    private async Task UnregisterReminderAsync()
    {
        if (await _resume.RemoveAsync(this) is { } error)
        {
            LogReminderNotRemoved(error, Id);
        }
    }

    private Task WriteAsync(BulkOperationState next) => _operation.WriteAsync(next);

    private BulkOperationStatus Status(BulkOperationState state) => new()
    {
        Id = Id,
        Action = state.Action,
        Filter = state.Filter,
        Completed = state.Completed,
        Matched = state.Matched,
        Done = state.Done,
        Failed = state.Failed,
        CreatedAt = state.CreatedAt,
        FinishedAt = state.FinishedAt,
        Silo = RuntimeIdentity,
    };

    /// <summary><paramref name="filter"/> narrowed to the jobs created up to <paramref name="start"/> (millisecond precision).</summary>
    internal static JobFilter Covered(JobFilter filter, DateTimeOffset start)
    {
        var bound = DateTimeOffset.FromUnixTimeMilliseconds(start.ToUnixTimeMilliseconds() + 1);
        return filter.CreatedBefore is { } before && before <= bound ? filter : filter with { CreatedBefore = bound };
    }

    private static bool SameFilter(JobFilter a, JobFilter b) =>
        a.Statuses.SequenceEqual(b.Statuses)
        && string.Equals(a.Type, b.Type, StringComparison.Ordinal)
        && a.CreatedAfter == b.CreatedAfter
        && a.CreatedBefore == b.CreatedBefore
        && string.Equals(a.IdPrefix, b.IdPrefix, StringComparison.Ordinal);

    [LoggerMessage(900, LogLevel.Information, "Bulk operation {OperationId}: {Action} started over {Matched} matching jobs")]
    private partial void LogStarted(string operationId, BulkAction action, long matched);

    [LoggerMessage(901, LogLevel.Information, "Bulk operation {OperationId}: {Action} completed; matched {Matched}, done {Done}, failed {Failed}")]
    private partial void LogCompleted(string operationId, BulkAction action, long matched, long done, long failed);

    [LoggerMessage(902, LogLevel.Warning, "Bulk operation {OperationId}: a step failed; it resumes from its stored page at the next reminder tick")]
    private partial void LogStepFailed(Exception exception, string operationId);

    [LoggerMessage(904, LogLevel.Warning, "Bulk operation {OperationId}: its reminder could not be removed; its next tick tries again")]
    private partial void LogReminderNotRemoved(Exception exception, string operationId);

    [LoggerMessage(903, LogLevel.Warning, "Bulk operation {OperationId}: {Count} jobs of a page failed with an error (the first is attached) and count as failed")]
    private partial void LogJobsFailed(Exception exception, string operationId, int count);
}
