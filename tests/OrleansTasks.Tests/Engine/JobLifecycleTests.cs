using Orleans.Runtime;
using OrleansTasks.Examples;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

[Collection(ClusterCollection.Name)]
public sealed class JobLifecycleTests(ClusterFixture fixture)
{
    /// <summary>
    /// How late a timed start may be. Lower bounds ("never early") are exact; upper bounds are generous because a
    /// busy 2-core CI machine can stall a timer by hundreds of ms (precision is the bench's job). Still well under
    /// the fixture's 10 s recovery tick, so a start that waited for that tick instead of its own timer fails.
    /// </summary>
    private static readonly TimeSpan Late = TimeSpan.FromSeconds(2);

    /// <summary>Wall-clock stamps taken by different calls may disagree by a few ms of clock slew.</summary>
    private static readonly TimeSpan Slew = TimeSpan.FromMilliseconds(5);

    private JobClient Jobs => fixture.Jobs;

    [Fact]
    public async Task SuccessfulJobStoresItsResultAndOneAttempt()
    {
        var created = await Jobs.EnqueueAsync(new Echo("hello"));
        Assert.Equal(EnqueueOutcome.Created, created.Outcome);
        // With a free slot the first attempt begins in the enqueue's own write.
        Assert.Contains(created.Snapshot!.Status, new[] { JobStatus.Queued, JobStatus.Running });

        var done = await fixture.WaitForTerminalAsync(created.Snapshot.Id);
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal("\"hello\"", done.ResultJson);
        Assert.Equal(1, done.Attempts);
        var attempt = Assert.Single(done.History);
        Assert.Equal(AttemptOutcome.Succeeded, attempt.Outcome);
        Assert.False(string.IsNullOrEmpty(attempt.Silo));
        Assert.NotNull(done.StartedAt);
        Assert.True(done.FinishedAt >= done.StartedAt);
        Assert.Equal(1, TestJobLog.ExecutionsOf(done.Id));
    }

    [Fact]
    public async Task ExampleJobsReturnTheSeedsResults()
    {
        var report = await Jobs.EnqueueAsync(new GenerateReport("monthly-sales", new System.Text.Json.Nodes.JsonObject { ["month"] = "jan", ["year"] = 2023 }));
        var image = await Jobs.EnqueueAsync(new ProcessImage("https://example.com/image.jpg", 123));
        var email = await Jobs.EnqueueAsync(new SendWelcomeEmail("test@example.com"));

        Assert.Equal("\"Report monthly-sales generated successfully.\"", (await fixture.WaitForTerminalAsync(report.Snapshot!.Id)).ResultJson);
        Assert.Equal("""{"status":"processed","userId":123,"imageUrl":"https://example.com/image.jpg"}""", (await fixture.WaitForTerminalAsync(image.Snapshot!.Id)).ResultJson);
        Assert.Equal("true", (await fixture.WaitForTerminalAsync(email.Snapshot!.Id)).ResultJson);
    }

    [Fact]
    public async Task FailingJobIsRetriedWithExponentialBackoffThenFailsWithFullHistory()
    {
        var minBackoff = TimeSpan.FromMilliseconds(200);
        var created = await Jobs.EnqueueAsync(new SendWelcomeEmail(ExampleJobs.FailingEmail), new JobOptions { MinBackoff = minBackoff });
        Assert.Equal(3, created.Snapshot!.Policy.MaxRetries);

        var done = await fixture.WaitForTerminalAsync(created.Snapshot.Id);
        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Equal(4, done.Attempts);
        Assert.Equal(4, done.History.Count);
        Assert.All(done.History, a => Assert.Equal(AttemptOutcome.Failed, a.Outcome));
        Assert.All(done.History, a => Assert.Equal(nameof(HttpRequestException), a.Error!.Type));
        Assert.Equal(nameof(HttpRequestException), done.LastError!.Type);
        Assert.DoesNotContain("   at ", done.LastError.Message, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3, 4], done.History.Select(a => a.Number));

        for (var retry = 1; retry < done.History.Count; retry++)
        {
            var gap = done.History[retry].StartedAt - done.History[retry - 1].FinishedAt!.Value;
            var b = Backoff.Base(retry, minBackoff, done.Policy.MaxBackoff);
            Assert.InRange(gap, b - Slew, (b * 1.5) + Late);
        }
    }

    [Fact]
    public async Task RetryStartsNoEarlierThanPlannedAndLongBeforeTheNextRecoveryTick()
    {
        var created = await Jobs.EnqueueAsync(new Flaky(FailTimes: 1), new JobOptions { MinBackoff = TimeSpan.FromSeconds(1), MaxRetries = 2 });
        var retrying = await fixture.WaitForAsync(created.Snapshot!.Id, s => s.Status == JobStatus.Retrying);
        var planned = retrying.NextAttemptAt!.Value;

        // The plan is the backoff (1 to 1.5 s, jitter bounds exact in BackoffTests) counted from the failure; the
        // grain reads the clock twice, hence the allowance on top.
        Assert.InRange(planned - retrying.History[0].FinishedAt!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.5) + Late);

        var done = await fixture.WaitForTerminalAsync(created.Snapshot.Id);
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal("2", done.ResultJson);
        Assert.InRange(done.History[1].StartedAt - planned, -Slew, Late);
    }

    [Theory]
    [InlineData("permanent")]
    [InlineData("nonretryable")]
    public async Task NonRetryableFailureFailsAtOnce(string kind)
    {
        var created = kind == "permanent"
            ? await Jobs.EnqueueAsync(new Permanent("the account was deleted"))
            : await Jobs.EnqueueAsync(new NonRetryable("listed as non-retryable"));
        var done = await fixture.WaitForTerminalAsync(created.Snapshot!.Id);

        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Equal(1, done.Attempts);
        Assert.Single(done.History);
        Assert.Equal(kind == "permanent" ? nameof(PermanentJobFailureException) : nameof(InvalidOperationException), done.LastError!.Type);
        Assert.Equal(1, TestJobLog.ExecutionsOf(done.Id));
    }

    [Fact]
    public async Task AttemptOverItsTimeoutFailsWithATimeoutAndFollowsTheRetryPolicy()
    {
        var created = await Jobs.EnqueueAsync(new Slow(60_000),
            new JobOptions { Timeout = TimeSpan.FromMilliseconds(300), MaxRetries = 1, MinBackoff = TimeSpan.FromMilliseconds(100) });
        var done = await fixture.WaitForTerminalAsync(created.Snapshot!.Id);

        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Equal(2, done.Attempts);
        Assert.All(done.History, a =>
        {
            Assert.Equal(AttemptOutcome.TimedOut, a.Outcome);
            Assert.Equal(nameof(TimeoutException), a.Error!.Type);
            Assert.InRange(a.FinishedAt!.Value - a.StartedAt, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(10));
        });
    }

    [Fact]
    public async Task HandlerOutlivingTheResponseTimeoutAndCollectionAgeFinishesInOneAttempt()
    {
        var runFor = (ClusterFixture.ShortResponseTimeout + ClusterFixture.ShortCollectionAge) * 1.5;
        var created = await Jobs.EnqueueAsync(new Slow((int)runFor.TotalMilliseconds), new JobOptions { MaxRetries = 0 });

        // Not polling the job meanwhile: queries would keep the activation busy and hide a collection.
        await Poll.UntilAsync(() => Task.FromResult(TestJobLog.Completions.ContainsKey(created.Snapshot!.Id)), done => done,
            TimeSpan.FromSeconds(60), "the slow handler to finish");
        var done = await fixture.WaitForTerminalAsync(created.Snapshot!.Id);

        Assert.Equal(JobStatus.Succeeded, done.Status);
        var attempt = Assert.Single(done.History);
        // Wall-clock stamps against a monotonic timer: allow a few ms of clock slew.
        Assert.True(attempt.FinishedAt!.Value - attempt.StartedAt >= runFor - TimeSpan.FromMilliseconds(50), $"ran {attempt.FinishedAt - attempt.StartedAt}");
    }

    [Fact]
    public async Task DelayedJobWaitsScheduledAndStartsNoEarlierThanItsTime()
    {
        var created = await Jobs.EnqueueAsync(new Echo("later"), new JobOptions { Delay = TimeSpan.FromSeconds(1.5) });
        Assert.Equal(JobStatus.Scheduled, created.Snapshot!.Status);
        var runAt = created.Snapshot.ScheduledFor!.Value;

        // The delay counts from the acknowledged creation instant (one clock reading), not from some later moment.
        Assert.Equal(TimeSpan.FromSeconds(1.5), runAt - created.Snapshot.CreatedAt);

        var done = await fixture.WaitForTerminalAsync(created.Snapshot.Id);
        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.True(done.History[0].StartedAt >= runAt, $"started {done.History[0].StartedAt:o} before {runAt:o}");
        Assert.True(done.History[0].StartedAt - runAt <= Late, $"started {done.History[0].StartedAt - runAt} after {runAt:o}");
    }

    [Fact]
    public async Task JobWithRunAtStartsAtThatInstant()
    {
        var runAt = DateTimeOffset.UtcNow.AddSeconds(1);
        var created = await Jobs.EnqueueAsync(new Echo("at"), new JobOptions { RunAt = runAt });
        Assert.Equal(JobStatus.Scheduled, created.Snapshot!.Status);
        var done = await fixture.WaitForTerminalAsync(created.Snapshot.Id);
        Assert.True(done.History[0].StartedAt >= runAt);
    }

    [Fact]
    public async Task SameIdTwiceMakesOneJobAndRunsItOnce()
    {
        var id = $"welcome-{Guid.NewGuid():N}";
        var first = await Jobs.EnqueueAsync(new Echo("once"), id: id);
        var second = await Jobs.EnqueueAsync("test_echo", """{ "Value" : "once" }""", id: id);

        Assert.Equal(EnqueueOutcome.Created, first.Outcome);
        Assert.Equal(EnqueueOutcome.Existing, second.Outcome);
        Assert.Equal(first.Snapshot!.CreatedAt, second.Snapshot!.CreatedAt);
        await fixture.WaitForTerminalAsync(id);

        var third = await Jobs.EnqueueAsync(new Echo("once"), id: id);
        Assert.Equal(EnqueueOutcome.Existing, third.Outcome);
        Assert.Equal(JobStatus.Succeeded, third.Snapshot!.Status);
        Assert.Equal(1, TestJobLog.ExecutionsOf(id));
    }

    [Fact]
    public async Task SameIdWithDifferentPayloadOrTypeIsAConflictAndChangesNothing()
    {
        var id = $"conflict-{Guid.NewGuid():N}";
        await Jobs.EnqueueAsync(new Echo("original"), new JobOptions { Delay = TimeSpan.FromMinutes(5) }, id);

        var otherPayload = await Jobs.EnqueueAsync(new Echo("changed"), id: id);
        var otherType = await Jobs.EnqueueAsync(new Flaky(0), id: id);

        Assert.Equal(EnqueueOutcome.Conflict, otherPayload.Outcome);
        Assert.Equal(EnqueueOutcome.Conflict, otherType.Outcome);
        Assert.Contains(id, otherPayload.Detail, StringComparison.Ordinal);
        var stored = await Jobs.GetAsync(id);
        Assert.Equal("""{"value":"original"}""", stored!.PayloadJson);
        Assert.Equal(JobStatus.Scheduled, stored.Status);
    }

    [Fact]
    public async Task SnapshotAnswersWhileTheHandlerIsStillRunning()
    {
        var gate = Guid.NewGuid().ToString("N");
        var created = await Jobs.EnqueueAsync(new Gate(gate));
        await fixture.WaitForAsync(created.Snapshot!.Id, s => s.Status == JobStatus.Running);

        for (var i = 0; i < 20; i++)
        {
            // The handler stays blocked on the gate until after this loop: a query that waited behind it would
            // never answer, and fails here on the deadline (the fixture's 3 s response timeout would fire first).
            var snapshot = await Jobs.GetAsync(created.Snapshot.Id).WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(JobStatus.Running, snapshot!.Status);
        }

        TestJobLog.Open(gate);
        Assert.Equal(JobStatus.Succeeded, (await fixture.WaitForTerminalAsync(created.Snapshot.Id)).Status);
    }

    [Fact]
    public async Task EachSiloRunsAtMostMaxConcurrencyHandlersAndStartsTheRestInOrder()
    {
        var gate = Guid.NewGuid().ToString("N");
        var ids = new List<string>();
        for (var i = 0; i < TestSiloSettings.MaxConcurrency * 3; i++)
        {
            ids.Add((await Jobs.EnqueueAsync(new Gate(gate), id: $"{gate}-{i:D2}")).Snapshot!.Id);
        }

        var snapshots = await Poll.UntilAsync(
            () => Task.WhenAll(ids.Select(Jobs.GetAsync)),
            all => all.Count(s => s!.Status == JobStatus.Running) == TestSiloSettings.MaxConcurrency,
            what: "the pool to fill");
        Assert.Equal(ids.Count - TestSiloSettings.MaxConcurrency, snapshots.Count(s => s!.Status == JobStatus.Queued));
        Assert.Equal(ids.Take(TestSiloSettings.MaxConcurrency), snapshots.Where(s => s!.Status == JobStatus.Running).Select(s => s!.Id).Order());

        TestJobLog.Open(gate);
        foreach (var id in ids)
        {
            Assert.Equal(JobStatus.Succeeded, (await fixture.WaitForTerminalAsync(id)).Status);
        }

        Assert.Equal(TestSiloSettings.MaxConcurrency, TestJobLog.MaxRunning[gate]);
    }

    [Fact]
    public async Task TerminalJobGrainsDeactivate()
    {
        var ids = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            ids.Add((await Jobs.EnqueueAsync(new Echo($"n{i}"))).Snapshot!.Id);
        }

        // No snapshot polling here: a query of a finished job deactivates it too, which would hide a missing
        // deactivation at the end of the job's own processing.
        await Poll.UntilAsync(() => Task.FromResult(ids.Count(id => TestJobLog.ExecutionsOf(id) == 1)), n => n == ids.Count);
        var management = fixture.Cluster.Client.GetGrain<IManagementGrain>(0);
        var ours = ids.Select(id => fixture.Cluster.Client.GetGrain<IJobGrain>(id).GetGrainId()).ToHashSet();
        await Poll.UntilAsync(
            async () => (await management.GetDetailedGrainStatistics()).Count(s => ours.Contains(s.GrainId)),
            count => count == 0,
            what: "the finished jobs' activations to be gone");
        foreach (var id in ids)
        {
            Assert.Equal(JobStatus.Succeeded, (await fixture.Jobs.GetAsync(id))!.Status);
        }
    }
}
