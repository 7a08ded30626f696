namespace OrleansTasks.Jobs;

/// <summary>
/// A job's durable wake-up: the reminder that brings a job waiting for its time (or finishing with a webhook) back
/// after a crash. It remembers what this activation knows of the reminder, so that the many jobs that never have one
/// do not ask the reminder table when they finish.
/// </summary>
/// <param name="grain">The job grain that owns the reminder.</param>
/// <param name="period">Its period once due (<see cref="JobsOptions.RecoveryInterval"/>).</param>
public sealed class JobWakeUp(Grain grain, TimeSpan period)
{
    private const string ReminderName = "wake-up";

    private IGrainReminder? _reminder;

    // True while this activation knows the job has no wake-up (it created the job without one, or removed it).
    private bool _none;

    /// <summary>A new job is created: no wake-up of its id is known unless this activation registered one.</summary>
    /// <remarks>A stray one from an earlier job of the same id removes itself when it ticks on a finished job.</remarks>
    public void Created() => _none = _reminder is null;

    /// <summary>The reminder ticked, or storage was read again: what this activation knew may no longer hold.</summary>
    public void Forget()
    {
        _reminder = null;
        _none = false;
    }

    /// <summary>Registers or moves the wake-up to fire <paramref name="dueIn"/> from now, then every period.</summary>
    public async Task SetAsync(TimeSpan dueIn)
    {
        // A zero due time skips the first tick (dotnet/orleans#9385), hence the 1 ms floor.
        var due = dueIn < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : dueIn;
        _none = false;
        _reminder = await grain.RegisterOrUpdateReminder(ReminderName, due, period);
    }

    /// <summary>Removes the wake-up; false when that failed (harmless: its next tick sees a finished job and tries again).</summary>
    public async Task<Exception?> TryClearAsync()
    {
        if (_none && _reminder is null)
        {
            return null;
        }

        try
        {
            _reminder ??= await grain.GetReminder(ReminderName);
            if (_reminder is not null)
            {
                await grain.UnregisterReminder(_reminder);
                _reminder = null;
            }

            _none = true;
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _reminder = null;
            return ex;
        }
    }

    /// <summary>Moves the wake-up to fire <paramref name="dueIn"/> from now; the exception when that failed.</summary>
    public async Task<Exception?> TryMoveAsync(TimeSpan dueIn)
    {
        try
        {
            await SetAsync(dueIn);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The old wake-up is still registered (or the write went through): a later tick does what is needed.
            _reminder = null;
            return ex;
        }
    }
}
