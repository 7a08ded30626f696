using Microsoft.Extensions.DependencyInjection;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>Cancel in every state, requeue and delete, on the engine (the HTTP codes are in JobOperationsApiTests).</summary>
[Collection(ClusterCollection.Name)]
public sealed class JobOperationsTests(ClusterFixture fixture)
{
    private JobClient Jobs => fixture.Jobs;

    private JobRunner Runner => ((Orleans.TestingHost.InProcessSiloHandle)fixture.Cluster.Silos[0]).ServiceProvider.GetRequiredService<JobRunner>();

    [Fact]
    public async Task AScheduledJobIsCancelledAtOnceNeverRunsAndASecondCancelIsDoneToo()
    {
        var id = (await Jobs.EnqueueAsync(new Echo("never"), new JobOptions { Delay = TimeSpan.FromSeconds(2) })).Snapshot!.Id;
        var cancelled = await Jobs.CancelAsync(id);
        Assert.Equal(JobCommandOutcome.Done, cancelled.Outcome);
        Assert.Equal(JobStatus.Cancelled, cancelled.Snapshot!.Status);
        Assert.NotNull(cancelled.Snapshot.FinishedAt);
        Assert.Equal(JobCommandOutcome.Done, (await Jobs.CancelAsync(id)).Outcome);

        // Past its start time it is still cancelled and never ran.
        await Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow), now => now > cancelled.Snapshot.ScheduledFor!.Value.AddSeconds(1), what: "the planned start to pass");
        Assert.Equal(JobStatus.Cancelled, (await Jobs.GetAsync(id))!.Status);
        Assert.Equal(0, TestJobLog.ExecutionsOf(id));
    }

    [Fact]
    public async Task AQueuedJobWaitingForASlotIsCancelledAndNeverRuns()
    {
        var gate = $"ops-queued-{Guid.NewGuid():N}";
        var holders = new List<string>();
        try
        {
            for (var i = 0; i < TestSiloSettings.MaxConcurrency; i++)
            {
                holders.Add((await Jobs.EnqueueAsync(new Gate(gate))).Snapshot!.Id);
            }

            var queued = (await Jobs.EnqueueAsync(new Echo("waits"))).Snapshot!;
            Assert.Equal(JobStatus.Queued, queued.Status);
            Assert.Equal(JobStatus.Cancelled, (await Jobs.CancelAsync(queued.Id)).Snapshot!.Status);

            TestJobLog.Open(gate);
            foreach (var holder in holders)
            {
                await fixture.WaitForTerminalAsync(holder);
            }

            Assert.Equal(JobStatus.Cancelled, (await Jobs.GetAsync(queued.Id))!.Status);
            Assert.Equal(0, TestJobLog.ExecutionsOf(queued.Id));
        }
        finally
        {
            TestJobLog.Open(gate);
        }
    }

    [Fact]
    public async Task ARetryingJobIsCancelledAndItsRetryNeverRuns()
    {
        var id = (await Jobs.EnqueueAsync(new Flaky(5), new JobOptions { MinBackoff = TimeSpan.FromSeconds(2), MaxBackoff = TimeSpan.FromSeconds(2) })).Snapshot!.Id;
        var retrying = await fixture.WaitForAsync(id, s => s.Status == JobStatus.Retrying);
        var cancelled = await Jobs.CancelAsync(id);
        Assert.Equal(JobStatus.Cancelled, cancelled.Snapshot!.Status);

        await Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow), now => now > retrying.NextAttemptAt!.Value.AddSeconds(1), what: "the retry time to pass");
        Assert.Equal(1, TestJobLog.ExecutionsOf(id));
        Assert.Equal(JobStatus.Cancelled, (await Jobs.GetAsync(id))!.Status);
    }

    [Fact]
    public async Task ARunningCooperativeHandlerSeesItsTokenAndTheJobEndsCancelled()
    {
        var id = (await Jobs.EnqueueAsync(new UntilCancelled("coop"))).Snapshot!.Id;
        await fixture.WaitForAsync(id, s => s.Status == JobStatus.Running);

        var accepted = await Jobs.CancelAsync(id);
        Assert.Equal(JobCommandOutcome.Accepted, accepted.Outcome);
        Assert.NotNull(accepted.Snapshot!.CancelRequestedAt);

        var done = await fixture.WaitForTerminalAsync(id);
        Assert.Equal(JobStatus.Cancelled, done.Status);
        Assert.Equal(AttemptOutcome.Cancelled, done.History[^1].Outcome);
        Assert.Null(done.ResultJson);
        Assert.Equal(1, TestJobLog.Completions.GetValueOrDefault(id));
        Assert.Equal(JobCommandOutcome.Done, (await Jobs.CancelAsync(id)).Outcome);
    }

    [Fact]
    public async Task AnUncooperativeHandlerIsCancelledAfterTheGraceKeepsItsSlotAndBlocksRequeueAndDeleteUntilItEnds()
    {
        var gate = $"ops-stubborn-{Guid.NewGuid():N}";
        try
        {
            var id = (await Jobs.EnqueueAsync(new Stubborn(gate), new JobOptions { Timeout = TimeSpan.FromMinutes(5) })).Snapshot!.Id;
            await fixture.WaitForAsync(id, s => s.Status == JobStatus.Running);
            Assert.Equal(JobCommandOutcome.Accepted, (await Jobs.CancelAsync(id)).Outcome);

            // Jobs:CancelGrace is 1 s in the test silos: then the job is cancelled whatever the handler does.
            var done = await fixture.WaitForTerminalAsync(id);
            Assert.Equal(JobStatus.Cancelled, done.Status);
            Assert.Equal(1, Runner.Stuck);

            var requeue = await Jobs.RequeueAsync(id);
            Assert.Equal(JobCommandOutcome.Conflict, requeue.Outcome);
            Assert.Contains("still runs", requeue.Detail, StringComparison.Ordinal);
            Assert.Equal(JobCommandOutcome.Conflict, (await Jobs.DeleteAsync(id)).Outcome);

            TestJobLog.Open(gate);
            await Poll.UntilAsync(() => Task.FromResult(Runner.Stuck), stuck => stuck == 0, what: "the stuck handler to end");
            await Poll.UntilAsync(() => Jobs.RequeueAsync(id), r => r.Outcome == JobCommandOutcome.Done, what: "the requeue to be accepted");
            var again = await fixture.WaitForTerminalAsync(id);
            Assert.Equal(JobStatus.Succeeded, again.Status);
            Assert.Equal(2, again.Round);
        }
        finally
        {
            TestJobLog.Open(gate);
        }
    }

    [Fact]
    public async Task FinishedJobsCannotBeCancelledAndUnknownIdsAreNotFound()
    {
        var ok = (await Jobs.EnqueueAsync(new Echo("done"))).Snapshot!.Id;
        await fixture.WaitForTerminalAsync(ok);
        var refused = await Jobs.CancelAsync(ok);
        Assert.Equal(JobCommandOutcome.Conflict, refused.Outcome);
        Assert.Equal(JobStatus.Succeeded, refused.Snapshot!.Status);

        var unknown = $"nobody-{Guid.NewGuid():N}";
        Assert.Equal(JobCommandOutcome.NotFound, (await Jobs.CancelAsync(unknown)).Outcome);
        Assert.Equal(JobCommandOutcome.NotFound, (await Jobs.RequeueAsync(unknown)).Outcome);
        Assert.Equal(JobCommandOutcome.NotFound, (await Jobs.DeleteAsync(unknown)).Outcome);
        Assert.Null(await Jobs.GetAsync(unknown));
    }

    [Fact]
    public async Task AFailedJobRequeuedRunsAgainWithAFreshBudgetAndKeepsItsEarlierRoundInHistory()
    {
        var id = (await Jobs.EnqueueAsync(new Permanent("no"))).Snapshot!.Id;
        var failed = await fixture.WaitForTerminalAsync(id);
        Assert.Equal(JobStatus.Failed, failed.Status);
        var notFinished = (await Jobs.EnqueueAsync(new Echo("not finished"), new JobOptions { Delay = TimeSpan.FromMinutes(5) })).Snapshot!.Id;
        Assert.Equal(JobCommandOutcome.Conflict, (await Jobs.RequeueAsync(notFinished)).Outcome);

        var requeued = await Jobs.RequeueAsync(id);
        Assert.Equal(JobCommandOutcome.Done, requeued.Outcome);
        Assert.Equal(2, requeued.Snapshot!.Round);
        Assert.Equal(0, requeued.Snapshot.Attempts);

        var again = await fixture.WaitForTerminalAsync(id);
        Assert.Equal(JobStatus.Failed, again.Status);
        Assert.Equal(1, again.Attempts);
        Assert.Equal([1, 2], again.History.Select(a => a.Round));
        Assert.Equal(2, TestJobLog.ExecutionsOf(id));
    }

    [Fact]
    public async Task ADeletedJobIsGoneAndItsIdCanBeUsedAgainButAWaitingJobMustBeCancelledFirst()
    {
        var id = $"reuse-{Guid.NewGuid():N}";
        await Jobs.EnqueueAsync(new Echo("first"), id: id);
        await fixture.WaitForTerminalAsync(id);

        Assert.Equal(JobCommandOutcome.Done, (await Jobs.DeleteAsync(id)).Outcome);
        Assert.Null(await Jobs.GetAsync(id));
        Assert.Equal(JobCommandOutcome.NotFound, (await Jobs.DeleteAsync(id)).Outcome);

        var reused = await Jobs.EnqueueAsync(new Echo("second, different payload"), id: id);
        Assert.Equal(EnqueueOutcome.Created, reused.Outcome);
        var done = await fixture.WaitForTerminalAsync(id);
        Assert.Equal("\"second, different payload\"", done.ResultJson);
        Assert.Single(done.History);

        var waiting = (await Jobs.EnqueueAsync(new Echo("later"), new JobOptions { Delay = TimeSpan.FromMinutes(5) })).Snapshot!.Id;
        var refused = await Jobs.DeleteAsync(waiting);
        Assert.Equal(JobCommandOutcome.Conflict, refused.Outcome);
        Assert.Contains("cancel it first", refused.Detail, StringComparison.Ordinal);
        await Jobs.CancelAsync(waiting);
        Assert.Equal(JobCommandOutcome.Done, (await Jobs.DeleteAsync(waiting)).Outcome);
    }
}
