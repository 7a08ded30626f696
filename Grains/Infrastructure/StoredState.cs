namespace OrleansTasks.Infrastructure;

/// <summary>
/// A grain's persistent state that memory never shows ahead of storage. A failed write may or may not have been
/// stored (a lost reply), so after one the grain neither keeps what it tried to write nor trusts what it had: memory goes
/// back to the state before the change, and the state is <em>stale</em> until read again.
/// </summary>
/// <remarks>
/// <para>Contract:</para>
/// <list type="bullet">
/// <item><see cref="ChangeAsync(Func{Task})"/> runs a change: any mutations of <see cref="State"/>, the writes
/// (<see cref="WriteStateAsync"/>, <see cref="ClearStateAsync"/>) and whatever other calls it makes. While it runs,
/// <see cref="Visible"/> is the state before it (for queries that interleave with it). If it throws,
/// <see cref="State"/> is put back to what it was before, the state is marked stale, and the exception is rethrown.
/// A change inside a change is part of the outer one. Anything else the grain derived from storage (a cached reminder
/// handle: <see cref="ReminderSlot.Forget"/>) is the grain's to forget, in a catch around the change.</item>
/// <item><see cref="WriteAsync"/> and <see cref="ClearAsync"/> are one-write changes.</item>
/// <item><see cref="RefreshIfStaleAsync"/> reads storage again when stale; call it before deciding anything from
/// <see cref="State"/>. <see cref="ReadAsync"/> reads unconditionally (for example, to decide "no record" only on a
/// fresh read).</item>
/// <item><see cref="RecordExists"/> is not restored (the runtime sets it only on success); <see cref="Current"/>
/// and <see cref="Visible"/> answer null while there is no record.</item>
/// </list>
/// <para>Like the grain, it is not thread-safe. A grain whose calls interleave must run one change at a time itself
/// (a semaphore around <see cref="ChangeAsync(Func{Task})"/>); <see cref="Visible"/> is what the interleaved queries
/// read.</para>
/// </remarks>
/// <typeparam name="T">The state type.</typeparam>
/// <param name="storage">The grain's persistent state.</param>
public sealed class StoredState<T>(IPersistentState<T> storage)
    where T : class
{
    private int _depth;
    private T? _visibleBefore;

    /// <summary>Whether memory may differ from storage (a write failed) and must be read again before use.</summary>
    public bool IsStale { get; private set; }

    /// <summary>Whether a change is running.</summary>
    public bool Changing => _depth > 0;

    /// <summary>The state in memory (the runtime's default instance while there is no record).</summary>
    public T State
    {
        get => storage.State;
        set => storage.State = value;
    }

    /// <summary>Whether storage held a record at the last read or successful write.</summary>
    public bool RecordExists => storage.RecordExists;

    /// <summary>The state, or null while there is no record.</summary>
    public T? Current => storage.RecordExists ? storage.State : null;

    /// <summary>What queries may be shown: the state before the running change, else <see cref="Current"/>.</summary>
    public T? Visible => Changing ? _visibleBefore : Current;

    /// <summary>Runs <paramref name="change"/>; if it throws, memory goes back to the state before it, stale.</summary>
    public async Task ChangeAsync(Func<Task> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        await ChangeAsync<bool>(async () =>
        {
            await change();
            return true;
        });
    }

    /// <summary>Runs <paramref name="change"/> and returns its result; if it throws, memory goes back to the state before it, stale.</summary>
    public async Task<TResult> ChangeAsync<TResult>(Func<Task<TResult>> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var before = Begin();
        try
        {
            return await change();
        }
        catch
        {
            Fail(before);
            throw;
        }
        finally
        {
            End();
        }
    }

    /// <summary>
    /// Begins a change without a delegate (for a grain's hot path): returns the state to restore, which goes to
    /// <see cref="Fail"/> if the change throws; <see cref="End"/> in a finally either way.
    /// </summary>
    public T Begin()
    {
        if (_depth++ == 0)
        {
            _visibleBefore = Current;
        }

        return storage.State;
    }

    /// <summary>The change begun by <see cref="Begin"/> failed: memory goes back to <paramref name="before"/>, stale.</summary>
    public void Fail(T before)
    {
        storage.State = before;
        MarkStale();
    }

    /// <summary>Ends the change begun by <see cref="Begin"/>.</summary>
    public void End()
    {
        if (--_depth == 0)
        {
            _visibleBefore = null;
        }
    }

    /// <summary>Sets <paramref name="next"/> and writes it, as one change.</summary>
    public Task WriteAsync(T next) => ChangeAsync(async () =>
    {
        storage.State = next;
        await storage.WriteStateAsync();
    });

    /// <summary>Clears the record, as one change.</summary>
    public Task ClearAsync() => ChangeAsync(storage.ClearStateAsync);

    /// <summary>Writes <see cref="State"/>; inside a change (outside one, a failure leaves memory as it is).</summary>
    public Task WriteStateAsync() => storage.WriteStateAsync();

    /// <summary>Clears the record; inside a change.</summary>
    public Task ClearStateAsync() => storage.ClearStateAsync();

    /// <summary>Marks memory as not to be trusted until read again.</summary>
    public void MarkStale() => IsStale = true;

    /// <summary>Reads storage when stale; true when it read.</summary>
    public async Task<bool> RefreshIfStaleAsync()
    {
        if (!IsStale)
        {
            return false;
        }

        await ReadAsync();
        return true;
    }

    /// <summary>Reads storage (stale or not); memory is then current.</summary>
    public async Task ReadAsync()
    {
        await storage.ReadStateAsync();
        IsStale = false;
    }
}
