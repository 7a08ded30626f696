using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Infrastructure;
using OrleansTasks.Jobs;

namespace OrleansTasks.Schedules;

/// <summary>A schedule as stored (System.Text.Json: add properties, never rename one).</summary>
[GenerateSerializer, Alias("OrleansTasks.ScheduleState")]
public sealed record ScheduleState
{
    [Id(0)] public ScheduleDefinition Definition { get; init; } = new();
    [Id(1)] public bool Paused { get; init; }
    [Id(2)] public string? Note { get; init; }
    [Id(3)] public DateTimeOffset CreatedAt { get; init; }
    [Id(4)] public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The latest occurrence fired (or, on creation and resume, the instant before which nothing fires).</summary>
    [Id(5)] public DateTimeOffset? LastOccurrence { get; init; }
    [Id(6)] public string? LastJobId { get; init; }
    [Id(7)] public DateTimeOffset? Buffered { get; init; }
    [Id(8)] public IReadOnlyList<ScheduleRun> RecentRuns { get; init; } = [];

    /// <summary>Hash of the code definition last applied (schedules declared at silo start-up).</summary>
    [Id(9)] public string? CodeHash { get; init; }

    /// <summary>Deleted through the API while declared in code: stays deleted until the code definition changes.</summary>
    [Id(10)] public bool Deleted { get; init; }
}

/// <summary>
/// One recurring schedule. Its next occurrence is fired by a grain timer at the exact instant while the activation
/// lives; a reminder ticking every <c>Jobs:RecoveryInterval</c> is the durable promise that brings it back on another
/// silo after a crash, where missed occurrences are handled by the misfire policy. Each occurrence's job id is
/// derived from the instant, so nothing (a replayed tick, a crash between enqueue and the state write, two silos)
/// can make two jobs for one occurrence.
/// </summary>
[GrainType("schedule")]
public sealed partial class ScheduleGrain(
    [PersistentState("schedule", StorageNames.Schedules)] IPersistentState<ScheduleState> storage,
    JobTypeRegistry registry,
    JobTypeDirectory directory,
    IOptions<JobsOptions> options,
    [FromKeyedServices(JobClock.Key)] TimeProvider time,
    ILogger<ScheduleGrain> logger,
    Observability.JobMetrics metrics) : Grain, IScheduleGrain, IRemindable
{
    /// <summary>An occurrence fired at most this late counts as on time; a later one was missed (misfire policy).</summary>
    public static readonly TimeSpan MisfireGrace = ScheduleDecider.MisfireGrace;

    /// <summary>Most occurrence jobs one backfill makes.</summary>
    public const int MaxBackfill = ScheduleDecider.MaxOccurrences;

    private const string TickReminder = "tick";
    private const int RecentRunsKept = ScheduleDecider.RunsKept;

    // Every command and every firing is a change of this state: a failed write puts memory back and has storage read
    // again before the next decision.
    private readonly StoredState<ScheduleState> _schedule = new(storage);

    // The durable promise that brings the schedule back after a crash; removing it is best effort (a leftover tick on
    // a paused or deleted schedule removes it again).
    private readonly ReminderSlot _tick = new(TickReminder);

    private IGrainTimer? _timer;

    // The recurrence of the definition it was parsed from (a new definition, or one read again, parses anew).
    private (ScheduleDefinition Definition, ScheduleSpec Spec)? _spec;

    private string Id => this.GetPrimaryKeyString();

    private ScheduleState? Live => _schedule.RecordExists && !_schedule.State.Deleted ? _schedule.State : null;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Arm();
        return Task.CompletedTask;
    }

    public Task<ScheduleResult> UpsertAsync(ScheduleDefinition definition) => ApplyDefinitionAsync(definition, codeHash: null);

    public async Task<ScheduleResult> UpsertFromCodeAsync(ScheduleDefinition definition, string codeHash)
    {
        await _schedule.RefreshIfStaleAsync();
        if (_schedule.RecordExists && _schedule.State.CodeHash == codeHash)
        {
            return new ScheduleResult { Outcome = ScheduleOutcome.Unchanged, Snapshot = Live is null ? null : await SnapshotAsync() };
        }

        return await ApplyDefinitionAsync(definition, codeHash);
    }

    public async Task<ScheduleSnapshot?> GetAsync()
    {
        await _schedule.RefreshIfStaleAsync();
        return Live is null ? null : await SnapshotAsync();
    }

    public async Task<ScheduleResult> PauseAsync(string? note)
    {
        await _schedule.RefreshIfStaleAsync();
        if (Live is not { } state)
        {
            return NotFound();
        }

        await _schedule.WriteAsync(state with { Paused = true, Note = note, UpdatedAt = time.GetUtcNow() });
        await DisarmAsync();
        LogPaused(Id, note);
        return await DoneAsync();
    }

    public async Task<ScheduleResult> ResumeAsync()
    {
        await _schedule.RefreshIfStaleAsync();
        if (Live is not { } state)
        {
            return NotFound();
        }

        if (state.Paused)
        {
            // Occurrences that fell while paused are not caught up: the schedule goes on from now.
            var now = time.GetUtcNow();
            await _schedule.WriteAsync(state with { Paused = false, UpdatedAt = now, LastOccurrence = Max(state.LastOccurrence, now) });
            LogResumed(Id);
        }

        await EnsureReminderAsync();
        Arm();
        return await DoneAsync();
    }

    public async Task<ScheduleResult> TriggerAsync()
    {
        await _schedule.RefreshIfStaleAsync();
        if (Live is not { } state)
        {
            return NotFound();
        }

        var now = time.GetUtcNow();
        var jobId = ScheduleId.ManualJobIdFor(Id, now);
        var run = await EnqueueAsync(state, jobId, now, now, "manual");
        await _schedule.WriteAsync(Record(state, run) with { LastJobId = run.JobId ?? state.LastJobId });
        return await DoneAsync(run.JobId is null ? [] : [run.JobId]);
    }

    public async Task<ScheduleResult> BackfillAsync(DateTimeOffset from, DateTimeOffset to)
    {
        await _schedule.RefreshIfStaleAsync();
        if (Live is not { } state)
        {
            return NotFound();
        }

        if (to < from)
        {
            return Invalid("to", "must not be before from.");
        }

        var occurrences = Spec().Between(from - TimeSpan.FromTicks(1), to, MaxBackfill + 1);
        if (occurrences.Count > MaxBackfill)
        {
            return Invalid("to", $"the range holds more than {MaxBackfill} occurrences; backfill it in parts.");
        }

        // Like any occurrence, a backfilled one follows the overlap policy; it does not move LastOccurrence.
        var candidates = occurrences.Select(o => new ScheduleCandidate(o, "backfill", CandidateRule.FollowOverlap)).ToList();
        var previous = ScheduleDecider.OverlapMatters(state) ? await PreviousJobStatusAsync(state) : null;
        var steps = ScheduleDecider.Resolve(Id, state.Definition.Overlap, candidates, OverlapFacts.Of(state, previous), time.GetUtcNow(), JitterOf(state));
        var made = await _schedule.ChangeAsync(async () =>
        {
            var jobs = await CarryOutAsync(candidates, steps);
            await _schedule.WriteStateAsync();
            return jobs;
        });
        return await DoneAsync(made);
    }

    public async Task<bool> DeleteAsync()
    {
        await _schedule.RefreshIfStaleAsync();
        if (Live is not { } state)
        {
            return false;
        }

        await DisarmAsync();
        if (state.CodeHash is not null)
        {
            // Declared in code: remember the deletion, or the next silo start would bring it back.
            await _schedule.WriteAsync(state with { Deleted = true, UpdatedAt = time.GetUtcNow() });
        }
        else
        {
            await _schedule.ClearAsync();
        }

        await GrainFactory.GetGrain<IScheduleDirectoryGrain>(0).RemoveAsync(Id);
        LogDeleted(Id);
        DeactivateOnIdle();
        return true;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        _tick.Ticked();
        // Decided on what storage holds: a paused or deleted schedule in stale memory must not drop its reminder.
        await _schedule.RefreshIfStaleAsync();
        if (Live is not { Paused: false })
        {
            // Deleted or paused: the tick has nothing to drive.
            await DisarmAsync();
            return;
        }

        await FireSafelyAsync();
        if (Live is { } state && ScheduleDecider.Finished(state, Spec()))
        {
            // Past endAt with nothing waiting: no tick will ever find work again.
            await DisarmAsync();
        }
    }

    /// <summary>Fires what is due; a failure is logged and leaves the state to be read again before the next try.</summary>
    private async Task<bool> FireSafelyAsync()
    {
        try
        {
            await _schedule.RefreshIfStaleAsync();

            // Memory goes back to the state before on a failure; occurrence job ids keep a retry from making a second job.
            await _schedule.ChangeAsync(FireDueAsync);
            return true;
        }
        catch (Exception ex)
        {
            LogFireFailed(ex, Id);
            return false;
        }
    }

    private async Task<ScheduleResult> ApplyDefinitionAsync(ScheduleDefinition definition, string? codeHash)
    {
        ArgumentNullException.ThrowIfNull(definition);
        await _schedule.RefreshIfStaleAsync();
        var errors = await ValidateAsync(definition);
        if (errors.Count > 0)
        {
            if (codeHash is not null)
            {
                LogInvalidCodeSchedule(Id, string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(" ", e.Value)}")));
            }

            return new ScheduleResult { Outcome = ScheduleOutcome.Invalid, Errors = errors };
        }

        var now = time.GetUtcNow();
        var existing = Live;
        if (existing is null)
        {
            // Listed before it exists, so a crash in between leaves a listed id with no schedule (skipped when
            // listing), never a schedule nobody can list.
            await GrainFactory.GetGrain<IScheduleDirectoryGrain>(0).AddAsync(Id);
        }

        await _schedule.WriteAsync(existing is null
            ? new ScheduleState
            {
                Definition = definition,
                CreatedAt = now,
                UpdatedAt = now,
                LastOccurrence = now,
                // A code-declared schedule deleted and re-created keeps its code hash (so start-ups do not undo an API
                // change), and starts afresh otherwise: not paused.
                CodeHash = codeHash ?? (_schedule.RecordExists ? _schedule.State.CodeHash : null),
            }
            : existing with { Definition = definition, UpdatedAt = now, CodeHash = codeHash ?? existing.CodeHash, Deleted = false });
        LogUpserted(Id, existing is null ? "created" : "replaced");
        if (!_schedule.State.Paused)
        {
            await EnsureReminderAsync();
            Arm();
        }

        return new ScheduleResult { Outcome = existing is null ? ScheduleOutcome.Created : ScheduleOutcome.Replaced, Snapshot = await SnapshotAsync() };
    }

    private async Task<Dictionary<string, string[]>> ValidateAsync(ScheduleDefinition definition)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (ScheduleId.Validate(Id) is { } idProblem)
        {
            errors["id"] = [idProblem];
        }

        foreach (var (field, messages) in ScheduleSpec.Of(definition).Errors)
        {
            errors[field] = messages;
        }

        // The jobs' own checks: a registered type, a payload that validates, usable retry options.
        var request = new EnqueueRequest(definition.Type, definition.PayloadJson, definition.Options with { Delay = null, RunAt = null });
        var check = await directory.CheckAsync(registry, GrainFactory, request, time.GetUtcNow());
        foreach (var (field, messages) in check.Errors)
        {
            errors[field] = messages;
        }

        if (definition.Options.StartBy is not null)
        {
            errors["startBy"] = ["is an instant, which makes no sense for every occurrence; use maxAge."];
        }

        return errors;
    }

    /// <summary>Fires what is due: gathers the facts, asks <see cref="ScheduleDecider"/> and carries its steps out.</summary>
    private async Task FireDueAsync()
    {
        if (Live is not { Paused: false } state)
        {
            return;
        }

        var now = time.GetUtcNow();
        var spec = Spec();
        var previous = ScheduleDecider.NeedsPreviousStatus(state, spec, now) ? await PreviousJobStatusAsync(state) : null;
        var decision = ScheduleDecider.Decide(Id, state, spec, now, JitterOf(state), previous);
        if (decision.Missed is { } missed)
        {
            metrics.OccurrencesMissed(state.Definition.Type, run: missed.Run, skipped: missed.Skipped);
        }

        if (decision.ReleaseBuffered)
        {
            _schedule.State = _schedule.State with { Buffered = null };
        }

        await CarryOutAsync(decision.Candidates, decision.Steps);
        if (decision.LastOccurrence is { } last)
        {
            _schedule.State = _schedule.State with { LastOccurrence = last };
        }

        if (decision.Changed)
        {
            await _schedule.WriteStateAsync();
        }
    }

    /// <summary>
    /// Carries out the steps in order, recording each as a run; returns the ids of the jobs made. When an enqueue
    /// shows the decider's assumption wrong (no job was made, or it existed and has finished), the remaining candidates
    /// are decided again on the facts as they now are.
    /// </summary>
    private async Task<List<string>> CarryOutAsync(IReadOnlyList<ScheduleCandidate> candidates, IReadOnlyList<ScheduleStep> steps)
    {
        var made = new List<string>();
        for (var i = 0; i < steps.Count; i++)
        {
            var now = time.GetUtcNow();
            switch (steps[i])
            {
                case ScheduleStep.Skip skip:
                    _schedule.State = Record(_schedule.State, new ScheduleRun { Occurrence = skip.Occurrence, Kind = skip.Kind, FiredAt = now, Skipped = skip.Reason });
                    break;
                case ScheduleStep.Buffer buffer:
                    _schedule.State = Record(_schedule.State with { Buffered = buffer.Occurrence }, new ScheduleRun { Occurrence = buffer.Occurrence, Kind = buffer.Kind, FiredAt = now, Skipped = buffer.Reason });
                    break;
                case ScheduleStep.Enqueue enqueue:
                    if (enqueue.CancelFirst is { } previous)
                    {
                        await GrainFactory.GetGrain<IJobGrain>(previous).CancelAsync();
                    }

                    var state = _schedule.State;
                    var run = await EnqueueAsync(state, enqueue.JobId, enqueue.Occurrence, enqueue.RunAt ?? now, enqueue.Kind);
                    _schedule.State = Record(_schedule.State, run) with { LastJobId = run.JobId ?? _schedule.State.LastJobId };
                    if (run.JobId is { } jobId)
                    {
                        made.Add(jobId);
                    }

                    if (i + 1 < steps.Count && (run.JobId is null || run.Status is { } status && status.IsTerminal()))
                    {
                        var facts = run.JobId is null
                            ? OverlapFacts.Of(_schedule.State, await PreviousJobStatusAsync(_schedule.State))
                            : OverlapFacts.Of(_schedule.State, run.Status);
                        var rest = candidates.Skip(i + 1).ToList();
                        steps = [.. steps.Take(i + 1), .. ScheduleDecider.Resolve(Id, state.Definition.Overlap, rest, facts, now, JitterOf(state))];
                    }

                    break;
            }
        }

        return made;
    }

    private async Task<ScheduleRun> EnqueueAsync(ScheduleState state, string jobId, DateTimeOffset occurrence, DateTimeOffset runAt, string kind)
    {
        var now = time.GetUtcNow();
        var jobOptions = state.Definition.Options with { Delay = null, RunAt = runAt > now ? runAt : null };
        var result = await GrainFactory.GetGrain<IJobGrain>(jobId).EnqueueAsync(new EnqueueRequest(state.Definition.Type, state.Definition.PayloadJson, jobOptions));
        var run = new ScheduleRun { Occurrence = occurrence, Kind = kind, FiredAt = now, JobId = jobId, Status = result.Snapshot?.Status };
        switch (result.Outcome)
        {
            case EnqueueOutcome.Created:
                LogFired(Id, occurrence, jobId, kind);
                return run;
            case EnqueueOutcome.Existing:
                // Fired before (a replayed tick, a crash before the state write): the same job, not a second one.
                return run;
            default:
                LogNotFired(Id, occurrence, result.Detail ?? result.Outcome.ToString());
                return run with { JobId = null, Status = null, Skipped = $"not enqueued: {result.Detail}" };
        }
    }

    /// <summary>The status of the schedule's latest job; null when there is none or it is gone.</summary>
    private async Task<JobStatus?> PreviousJobStatusAsync(ScheduleState state) =>
        state.LastJobId is { } previous ? (await GrainFactory.GetGrain<IJobGrain>(previous).GetSnapshotAsync())?.Status : null;

    private Func<DateTimeOffset, TimeSpan> JitterOf(ScheduleState state)
    {
        var (id, jitter) = (Id, state.Definition.Jitter);
        return occurrence => ScheduleSpec.JitterFor(id, occurrence, jitter);
    }

    /// <summary>A one-shot timer for the next instant to look at (see <see cref="ScheduleDecider.WakeAt"/>).</summary>
    private void Arm(TimeSpan minimumWait = default)
    {
        _timer?.Dispose();
        _timer = null;
        var now = time.GetUtcNow();
        if (Live is not { Paused: false } state || ScheduleDecider.WakeAt(state, Spec(), now, minimumWait) is not { } wakeAt)
        {
            return;
        }

        var wait = wakeAt - now;
        _timer = this.RegisterGrainTimer(async () =>
        {
            // After a failure (storage down) the next try waits a second rather than spinning.
            var fired = await FireSafelyAsync();
            Arm(fired ? TimeSpan.Zero : TimeSpan.FromSeconds(1));
        }, new GrainTimerCreationOptions(wait, Timeout.InfiniteTimeSpan) { KeepAlive = true, Interleave = false });
    }

    private async Task EnsureReminderAsync()
    {
        var period = options.Value.RecoveryInterval;
        await _tick.SetAsync(this, period, period);
    }

    private async Task DisarmAsync()
    {
        _timer?.Dispose();
        _timer = null;
        if (await _tick.RemoveAsync(this) is { } error)
        {
            LogTickNotRemoved(error, Id);
        }
    }

    private ScheduleSpec Spec()
    {
        var definition = _schedule.State.Definition;
        if (_spec is not { } cached || !ReferenceEquals(cached.Definition, definition))
        {
            var spec = ScheduleSpec.Of(definition).Spec
                ?? throw new InvalidOperationException($"Schedule '{Id}' holds a definition that no longer parses.");
            _spec = cached = (definition, spec);
        }

        return cached.Spec;
    }

    private async Task<ScheduleSnapshot> SnapshotAsync()
    {
        var state = _schedule.State;
        var next = new List<DateTimeOffset>();
        var cursor = Max(state.LastOccurrence, time.GetUtcNow())!.Value;
        while (next.Count < 5 && Spec().Next(cursor) is { } n)
        {
            next.Add(n);
            cursor = n;
        }

        // Each run shows its job's status now (a job removed by retention shows none).
        var runs = await Task.WhenAll(state.RecentRuns.Select(async run => run.JobId is { } jobId
            ? run with { Status = (await GrainFactory.GetGrain<IJobGrain>(jobId).GetSnapshotAsync())?.Status }
            : run));
        return new ScheduleSnapshot
        {
            Id = Id,
            Definition = state.Definition,
            Paused = state.Paused,
            Note = state.Note,
            NextRuns = next,
            RecentRuns = runs,
            CreatedAt = state.CreatedAt,
            UpdatedAt = state.UpdatedAt,
            LastOccurrence = state.LastOccurrence,
            Buffered = state.Buffered,
        };
    }

    private async Task<ScheduleResult> DoneAsync(IReadOnlyList<string>? jobIds = null) =>
        new() { Outcome = ScheduleOutcome.Done, Snapshot = await SnapshotAsync(), JobIds = jobIds ?? [] };

    private ScheduleResult NotFound()
    {
        DeactivateOnIdle();
        return new ScheduleResult { Outcome = ScheduleOutcome.NotFound };
    }

    private static ScheduleResult Invalid(string field, string message) =>
        new() { Outcome = ScheduleOutcome.Invalid, Errors = new Dictionary<string, string[]> { [field] = [message] } };

    private static ScheduleState Record(ScheduleState state, ScheduleRun run) =>
        state with { RecentRuns = [run, .. state.RecentRuns.Take(RecentRunsKept - 1)] };

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    [LoggerMessage(800, LogLevel.Information, "Schedule {ScheduleId} {What}")]
    private partial void LogUpserted(string scheduleId, string what);

    [LoggerMessage(801, LogLevel.Information, "Schedule {ScheduleId} fired {Occurrence:o} as job {JobId} ({Kind})")]
    private partial void LogFired(string scheduleId, DateTimeOffset occurrence, string jobId, string kind);

    [LoggerMessage(802, LogLevel.Warning, "Schedule {ScheduleId} could not enqueue its occurrence {Occurrence:o}: {Reason}")]
    private partial void LogNotFired(string scheduleId, DateTimeOffset occurrence, string reason);

    [LoggerMessage(803, LogLevel.Information, "Schedule {ScheduleId} paused: {Note}")]
    private partial void LogPaused(string scheduleId, string? note);

    [LoggerMessage(804, LogLevel.Information, "Schedule {ScheduleId} resumed")]
    private partial void LogResumed(string scheduleId);

    [LoggerMessage(805, LogLevel.Information, "Schedule {ScheduleId} deleted")]
    private partial void LogDeleted(string scheduleId);

    [LoggerMessage(807, LogLevel.Warning, "Schedule {ScheduleId} could not fire what is due; retrying")]
    private partial void LogFireFailed(Exception exception, string scheduleId);

    [LoggerMessage(808, LogLevel.Warning, "Schedule {ScheduleId} could not remove its reminder; its next tick tries again")]
    private partial void LogTickNotRemoved(Exception exception, string scheduleId);

    [LoggerMessage(806, LogLevel.Error, "Schedule {ScheduleId} declared in code is invalid and was not applied: {Errors}")]
    private partial void LogInvalidCodeSchedule(string scheduleId, string errors);
}
