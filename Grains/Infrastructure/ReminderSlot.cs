namespace OrleansTasks.Infrastructure;

/// <summary>
/// One named reminder of a grain, and what this activation knows of it: the handle it registered or found (so removing
/// it needs no read of the reminder table), or that there is none.
/// </summary>
/// <remarks>
/// <para>Contract:</para>
/// <list type="bullet">
/// <item><see cref="SetAsync"/> registers or moves the reminder (a due time below 1 ms becomes 1 ms: a zero due time
/// skips the first tick, dotnet/orleans#9385) and keeps its handle; on failure it throws and keeps no handle.</item>
/// <item><see cref="RemoveAsync"/> removes it, best effort: nothing to do when known absent; a missing reminder is
/// fine; a failure is returned, not thrown, for the caller to log. The reminder may then tick again, so its handler
/// must find nothing to do on a finished grain and remove it again.</item>
/// <item><see cref="AssumeAbsent"/> records that there is none without asking (a grain just created with no
/// reminder), <see cref="Ticked"/> that there is one (its tick arrived), <see cref="Forget"/> that nothing is known
/// (after the grain's state went stale: storage may hold what a lost reply registered or removed).</item>
/// </list>
/// <para>Not thread-safe, like the grain that holds it.</para>
/// </remarks>
/// <param name="name">The reminder's name.</param>
public sealed class ReminderSlot(string name)
{
    private static readonly TimeSpan ShortestDue = TimeSpan.FromMilliseconds(1);

    private IGrainReminder? _handle;
    private bool _absent;

    /// <summary>The reminder's name.</summary>
    public string Name => name;

    /// <summary>Whether this activation knows there is no such reminder (removing it costs nothing).</summary>
    public bool KnownAbsent => _absent && _handle is null;

    /// <summary>Registers or moves the reminder of <paramref name="grain"/>.</summary>
    public async Task SetAsync(IGrainBase grain, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(grain);
        _absent = false;
        try
        {
            _handle = await grain.RegisterOrUpdateReminder(name, dueTime < ShortestDue ? ShortestDue : dueTime, period);
        }
        catch
        {
            // Registered or not: unknown until asked again.
            _handle = null;
            throw;
        }
    }

    /// <summary>Removes the reminder of <paramref name="grain"/> if there is one; null when done, else the failure.</summary>
    public async Task<Exception?> RemoveAsync(IGrainBase grain)
    {
        ArgumentNullException.ThrowIfNull(grain);
        if (KnownAbsent)
        {
            return null;
        }

        try
        {
            _handle ??= await grain.GetReminder(name);
            if (_handle is not null)
            {
                await grain.UnregisterReminder(_handle);
                _handle = null;
            }

            _absent = true;
            return null;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The handle may be out of date (an etag moved on): ask the table next time.
            _handle = null;
            return exception;
        }
    }

    /// <summary>There is no such reminder, as far as this activation can tell without asking (keeps a known handle).</summary>
    public void AssumeAbsent() => _absent = _handle is null;

    /// <summary>The reminder ticked, so it exists.</summary>
    public void Ticked() => _absent = false;

    /// <summary>Nothing is known of the reminder any more.</summary>
    public void Forget()
    {
        _handle = null;
        _absent = false;
    }
}
