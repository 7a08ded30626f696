using Microsoft.Extensions.DependencyInjection;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>What a handler gets (a scope of its own) and what it may not take (a slot after its attempt, huge results).</summary>
[Collection(ClusterCollection.Name)]
public sealed class HandlerIsolationTests(ClusterFixture fixture)
{
    private JobRunner Runner => ((Orleans.TestingHost.InProcessSiloHandle)fixture.Cluster.Silos[0]).ServiceProvider.GetRequiredService<JobRunner>();

    [Fact]
    public async Task EachAttemptGetsItsOwnScopeAndEverythingItResolvedIsDisposedAfterIt()
    {
        var gate = $"scope-{Guid.NewGuid():N}";
        var first = (await fixture.Jobs.EnqueueAsync(new Scoped(gate))).Snapshot!.Id;
        var second = (await fixture.Jobs.EnqueueAsync(new Scoped(gate))).Snapshot!.Id;
        try
        {
            // Both attempts run at once: a shared root provider would hand them the same scoped instance.
            await Poll.UntilAsync(() => Task.FromResult(TestJobLog.Scopes.ContainsKey(first) && TestJobLog.Scopes.ContainsKey(second)),
                both => both, what: "both handlers to start");
            var a = TestJobLog.Scopes[first];
            var b = TestJobLog.Scopes[second];
            Assert.Same(a.First, a.Second);
            Assert.NotSame(a.First, b.First);
            Assert.False(a.First.Disposed);
        }
        finally
        {
            TestJobLog.Open(gate);
        }

        foreach (var id in new[] { first, second })
        {
            Assert.Equal(JobStatus.Succeeded, (await fixture.WaitForTerminalAsync(id)).Status);
            var seen = TestJobLog.Scopes[id];
            await Poll.UntilAsync(() => Task.FromResult(seen.First.Disposed && seen.Transient.Disposed && seen.Handler.Disposed),
                disposed => disposed, what: "the attempt's scope, transient and handler to be disposed");
        }
    }

    [Fact]
    public async Task AHandlerThatIgnoresItsTimeoutKeepsItsSlotAndTheJobsNextAttemptWaitsForIt()
    {
        var gate = $"stubborn-{Guid.NewGuid():N}";
        var options = new JobOptions { MaxRetries = 1, MinBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(50) };
        var ids = new List<string>();
        try
        {
            for (var i = 0; i < TestSiloSettings.MaxConcurrency; i++)
            {
                ids.Add((await fixture.Jobs.EnqueueAsync(new Stubborn(gate), options)).Snapshot!.Id);
            }

            // Every first attempt times out (300 ms) while its handler runs on: the slots stay taken.
            foreach (var id in ids)
            {
                await fixture.WaitForAsync(id, s => s.History is [{ Outcome: AttemptOutcome.TimedOut }, ..]);
            }

            Assert.Equal(TestSiloSettings.MaxConcurrency, Runner.Stuck);
            Assert.Equal(TestSiloSettings.MaxConcurrency, Runner.Running);

            // A new job finds no free slot, and no job's retry has started beside its stuck first handler.
            var waiting = (await fixture.Jobs.EnqueueAsync(new Echo("after the stuck ones"))).Snapshot!;
            Assert.Equal(JobStatus.Queued, waiting.Status);
            Assert.All(ids, id => Assert.Equal(1, TestJobLog.ExecutionsOf(id)));
            Assert.Equal(JobStatus.Queued, (await fixture.Jobs.GetAsync(waiting.Id))!.Status);

            TestJobLog.Open(gate);
            Assert.Equal(JobStatus.Succeeded, (await fixture.WaitForTerminalAsync(waiting.Id)).Status);
            foreach (var id in ids)
            {
                var done = await fixture.WaitForTerminalAsync(id);
                Assert.Equal(JobStatus.Succeeded, done.Status);
                Assert.Equal(2, TestJobLog.ExecutionsOf(id));
            }

            await Poll.UntilAsync(() => Task.FromResult(Runner.Stuck), stuck => stuck == 0, what: "no stuck handlers left");
        }
        finally
        {
            TestJobLog.Open(gate);
        }
    }

    [Fact]
    public async Task AResultOverTheSizeLimitFailsTheJobForGoodAndOneAtTheLimitIsStored()
    {
        // The default limit is 64 KiB of JSON; a string of n characters is n + 2 bytes with its quotes.
        var limit = new JobsOptions().MaxResultBytes;
        var fits = (await fixture.Jobs.EnqueueAsync(new BigResult(limit - 2))).Snapshot!.Id;
        var tooBig = (await fixture.Jobs.EnqueueAsync(new BigResult(limit - 1), new JobOptions { MaxRetries = 5 })).Snapshot!.Id;

        var stored = await fixture.WaitForTerminalAsync(fits);
        Assert.Equal(JobStatus.Succeeded, stored.Status);
        Assert.Equal(limit, stored.ResultJson!.Length);

        var refused = await fixture.WaitForTerminalAsync(tooBig);
        Assert.Equal(JobStatus.Failed, refused.Status);
        Assert.Equal(1, refused.Attempts);
        Assert.Equal("ResultTooLarge", refused.LastError!.Type);
        Assert.Contains("Jobs:MaxResultBytes", refused.LastError.Message, StringComparison.Ordinal);
        Assert.Null(refused.ResultJson);
    }
}
