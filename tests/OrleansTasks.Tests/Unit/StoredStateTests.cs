using OrleansTasks.Infrastructure;

namespace OrleansTasks.Tests.Unit;

/// <summary>The contract of <see cref="StoredState{T}"/> over a fake persistent state, without a cluster.</summary>
public sealed class StoredStateTests
{
    private sealed record Counter(int Value);

    private sealed class FakeState : IPersistentState<Counter>
    {
        public Counter Stored { get; set; } = new(0);

        public int Reads { get; private set; }

        public bool FailNextWrite { get; set; }

        public Counter State { get; set; } = new(0);

        public string? Etag => null;

        public bool RecordExists { get; private set; }

        public Task ClearStateAsync() => Task.CompletedTask;

        public Task ReadStateAsync()
        {
            Reads++;
            State = Stored;
            RecordExists = true;
            return Task.CompletedTask;
        }

        public async Task WriteStateAsync()
        {
            await Task.Yield();
            if (FailNextWrite)
            {
                FailNextWrite = false;
                throw new InvalidOperationException("write failed");
            }

            Stored = State;
            RecordExists = true;
        }
    }

    [Fact]
    public async Task AFailedWritePutsTheStateBeforeBackAndReadsStorageBeforeTheNextUse()
    {
        var fake = new FakeState();
        var stored = new StoredState<Counter>(fake);
        await stored.WriteAsync(new Counter(1));

        fake.FailNextWrite = true;
        await Assert.ThrowsAsync<InvalidOperationException>(() => stored.WriteAsync(new Counter(2)));

        Assert.Equal(new Counter(1), stored.State);
        Assert.True(stored.IsStale);

        // Storage took the write after all (a lost reply): the refresh shows it.
        fake.Stored = new Counter(2);
        Assert.True(await stored.RefreshIfStaleAsync());
        Assert.Equal(new Counter(2), stored.Current);
        Assert.False(await stored.RefreshIfStaleAsync());
        Assert.Equal(1, fake.Reads);
    }

    [Fact]
    public async Task AChangeThatFailsAfterSeveralMutationsUndoesThemAllAndQueriesSeeTheStateBeforeWhileItRuns()
    {
        var fake = new FakeState();
        var stored = new StoredState<Counter>(fake);
        Assert.Null(stored.Visible);
        await stored.WriteAsync(new Counter(1));

        Counter? seenDuring = null;
        await Assert.ThrowsAsync<TimeoutException>(() => stored.ChangeAsync(async () =>
        {
            stored.State = new Counter(5);
            await stored.WriteAsync(new Counter(6));
            seenDuring = stored.Visible;
            throw new TimeoutException("a grain call after the write failed");
        }));

        Assert.Equal(new Counter(1), seenDuring);
        Assert.Equal(new Counter(1), stored.State);
        Assert.False(stored.Changing);
        Assert.True(stored.IsStale);
        Assert.Equal(new Counter(1), stored.Visible);
    }

    [Fact]
    public async Task ASuccessfulChangeReturnsItsResultAndLeavesTheStateFresh()
    {
        var stored = new StoredState<Counter>(new FakeState());

        var result = await stored.ChangeAsync(async () =>
        {
            await stored.WriteAsync(new Counter(3));
            return "done";
        });

        Assert.Equal("done", result);
        Assert.Equal(new Counter(3), stored.Visible);
        Assert.False(stored.IsStale);
    }
}
