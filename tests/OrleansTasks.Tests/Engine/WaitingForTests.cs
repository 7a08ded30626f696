using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

/// <summary>A job's snapshot says why it is not running, for each reason made to happen, and nothing where nothing waits.</summary>
[Collection(ClusterCollection.Name)]
public sealed class WaitingForTests(ClusterFixture fixture)
{
    private JobClient Jobs => fixture.Jobs;

    [Fact]
    public async Task ADelayedJobWaitsForItsRunTimeAndAFinishedOneForNothing()
    {
        var created = (await Jobs.EnqueueAsync(new Echo("later"), new JobOptions { Delay = TimeSpan.FromHours(1) })).Snapshot!;
        var read = (await Jobs.GetAsync(created.Id))!;
        Assert.Equal(JobWaitingReasons.RunAt, read.WaitingFor!.Reason);
        Assert.Equal(created.ScheduledFor, read.WaitingFor.Until);
        Assert.False(string.IsNullOrWhiteSpace(read.WaitingFor.Detail));
        Assert.Null(read.WaitingFor.Silo);

        await Jobs.CancelAsync(created.Id);
        Assert.Null((await Jobs.GetAsync(created.Id))!.WaitingFor);
    }

    [Fact]
    public async Task ARetryingJobWaitsForItsBackoffUntilItsNextAttempt()
    {
        var id = (await Jobs.EnqueueAsync(new Flaky(1), new JobOptions { MinBackoff = TimeSpan.FromMinutes(5), MaxBackoff = TimeSpan.FromMinutes(5) })).Snapshot!.Id;
        var retrying = await fixture.WaitForAsync(id, s => s.Status == JobStatus.Retrying);
        Assert.Equal(JobWaitingReasons.RetryBackoff, retrying.WaitingFor!.Reason);
        Assert.Equal(retrying.NextAttemptAt, retrying.WaitingFor.Until);
        await Jobs.CancelAsync(id);
    }

    [Fact]
    public async Task AQueuedJobWaitsForAWorkerSlotWhileEverySlotIsUsedAndARunningJobForNothing()
    {
        var gate = $"waiting-slot-{Guid.NewGuid():N}";
        var holders = new List<string>();
        try
        {
            for (var i = 0; i < TestSiloSettings.MaxConcurrency; i++)
            {
                holders.Add((await Jobs.EnqueueAsync(new Gate(gate))).Snapshot!.Id);
            }

            var queued = (await Jobs.EnqueueAsync(new Echo("waits for a slot"))).Snapshot!;
            var read = (await Jobs.GetAsync(queued.Id))!;
            Assert.Equal(JobStatus.Queued, read.Status);
            Assert.Equal(JobWaitingReasons.WorkerSlot, read.WaitingFor!.Reason);
            Assert.Null(read.WaitingFor.Until);
            Assert.Equal((TestSiloSettings.MaxConcurrency, TestSiloSettings.MaxConcurrency), (read.WaitingFor.SlotsUsed, read.WaitingFor.SlotsTotal));
            Assert.False(string.IsNullOrEmpty(read.WaitingFor.Silo));

            var holder = await fixture.WaitForAsync(holders[0], s => s.Status == JobStatus.Running);
            Assert.Null(holder.WaitingFor);

            TestJobLog.Open(gate);
            var done = await fixture.WaitForTerminalAsync(queued.Id);
            Assert.Equal(JobStatus.Succeeded, done.Status);
            Assert.Null(done.WaitingFor);
        }
        finally
        {
            TestJobLog.Open(gate);
        }
    }

    [Fact]
    public async Task AQueuedJobWaitsBehindItsOwnAbandonedHandler()
    {
        var gate = $"waiting-stubborn-{Guid.NewGuid():N}";
        try
        {
            // Times out after a second, ignores its token, and is retried at once: the retry waits for the old handler.
            var stubborn = (await Jobs.EnqueueAsync(new Stubborn(gate), new JobOptions
            {
                Timeout = TimeSpan.FromSeconds(1),
                MaxRetries = 1,
                MinBackoff = TimeSpan.FromMilliseconds(1),
                MaxBackoff = TimeSpan.FromMilliseconds(1),
            })).Snapshot!.Id;
            var behind = await fixture.WaitForAsync(stubborn, s => s.Status == JobStatus.Queued && s.Attempts == 1);
            Assert.Equal(JobWaitingReasons.PreviousHandlerRunning, behind.WaitingFor!.Reason);
            Assert.Null(behind.WaitingFor.Until);

            TestJobLog.Open(gate);
            var done = await fixture.WaitForTerminalAsync(stubborn);
            Assert.Equal(JobStatus.Succeeded, done.Status);
            Assert.Null(done.WaitingFor);
        }
        finally
        {
            TestJobLog.Open(gate);
        }
    }

    [Fact]
    public async Task AJobStillWaitingForASlotAfterItsMaxAgeEndsCancelledAsExpiredAndNeverRuns()
    {
        var gate = $"expiry-{Guid.NewGuid():N}";
        try
        {
            for (var i = 0; i < TestSiloSettings.MaxConcurrency; i++)
            {
                await Jobs.EnqueueAsync(new Gate(gate));
            }

            var stale = (await Jobs.EnqueueAsync(new Echo("stale"), new JobOptions { MaxAge = TimeSpan.FromSeconds(1) })).Snapshot!;
            Assert.Equal(stale.CreatedAt.AddSeconds(1), stale.StartBy);
            var fresh = (await Jobs.EnqueueAsync(new Echo("fresh"), new JobOptions { StartBy = DateTimeOffset.UtcNow.AddHours(1) })).Snapshot!;
            await Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow), now => now > stale.StartBy!.Value, what: "the max age to pass");

            TestJobLog.Open(gate);
            var expired = await fixture.WaitForTerminalAsync(stale.Id);
            Assert.Equal(JobStatus.Cancelled, expired.Status);
            Assert.Equal("Expired", expired.LastError!.Type);
            Assert.Empty(expired.History);
            Assert.Equal(0, TestJobLog.ExecutionsOf(stale.Id));
            Assert.Equal(JobStatus.Succeeded, (await fixture.WaitForTerminalAsync(fresh.Id)).Status);

            // A requeue starts its max age afresh: with free slots now it runs.
            var requeued = await Jobs.RequeueAsync(stale.Id);
            Assert.True(requeued.Snapshot!.StartBy > expired.FinishedAt);
            Assert.Equal(JobStatus.Succeeded, (await fixture.WaitForTerminalAsync(stale.Id)).Status);
        }
        finally
        {
            TestJobLog.Open(gate);
        }
    }
}
