using System.Text.Json;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Unit;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Progress;

/// <summary>Progress reports of handlers: throttled storage, the last value kept, handed to the retry, cleared by a requeue.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ProgressTests(ClusterFixture fixture)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly JobPolicy Policy = new(2, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1));

    [Fact]
    public async Task AHundredReportsInAboutTwoSecondsAreStoredAFewTimesEndWithTheLastValueAndReachTheRetry()
    {
        var id = $"progress-{Guid.NewGuid():N}";
        await fixture.Jobs.EnqueueAsync(new ProgressBurst(Reports: 100, FailTimes: 1, PauseMs: 15), id: id);
        var done = await fixture.WaitForTerminalAsync(id);

        Assert.Equal(JobStatus.Succeeded, done.Status);
        Assert.Equal(2, done.Attempts);

        // The last of the first attempt's reports, although it came within the same second as the other 99.
        var progress = Assert.IsType<JobProgress>(done.Progress);
        Assert.Equal(100, progress.Percent);
        Assert.Equal(100, JsonDocument.Parse(progress.DetailJson!).RootElement.GetProperty("step").GetInt32());

        // Every stored write bumps the version: enqueue-and-start, failure, retry start, success (4), plus at most one
        // progress write a second while the first attempt ran, and its first report at once — not a hundred.
        var first = done.History[0];
        var seconds = (int)Math.Ceiling((first.FinishedAt!.Value - first.StartedAt).TotalSeconds);
        Assert.InRange(done.Version, 4 + 1, 4 + seconds + 1);

        Assert.Null(ProgressTestJobs.LastProgressSeen[(id, 1)]);
        var handedOn = Assert.IsType<JobProgress>(ProgressTestJobs.LastProgressSeen[(id, 2)]);
        Assert.Equal(100, handedOn.Percent);
    }

    [Fact]
    public async Task ARequeueStartsTheNewRoundWithoutProgress()
    {
        var id = $"progress-requeue-{Guid.NewGuid():N}";
        await fixture.Jobs.EnqueueAsync(new ProgressBurst(Reports: 3, FailTimes: 1), id: id);
        Assert.NotNull((await fixture.WaitForTerminalAsync(id)).Progress);

        var requeued = await fixture.Jobs.RequeueAsync(id);
        Assert.Equal(JobCommandOutcome.Done, requeued.Outcome);
        Assert.Null(requeued.Snapshot!.Progress);
        var again = await fixture.WaitForAsync(id, s => s.Round == 2 && s.Status.IsTerminal());
        Assert.Equal(JobStatus.Succeeded, again.Status);
        Assert.Null(ProgressTestJobs.LastProgressSeen[(id, 1)]);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(100.5)]
    [InlineData(double.NaN)]
    public async Task APercentOutsideZeroToAHundredIsRefused(double percent)
    {
        var context = new JobContext("j", "t", 1, 0);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => context.ReportProgressAsync(percent));
        await context.ReportProgressAsync(0);
        await context.ReportProgressAsync(100, new { fine = true });
    }

    [Fact]
    public void AReportOfAStaleAttemptChangesNothing()
    {
        var running = Machine.Apply(null,
            new JobEvent.Enqueued(Now, "test_echo", "{}", Policy, Now, Slot: true, "silo-a"), TimeSpan.FromSeconds(15)).Next!;
        var report = new JobProgress(40, null, Now);

        var current = Machine.Apply(running, new JobEvent.ProgressReported(Now, 1, report), TimeSpan.FromSeconds(15));
        Assert.Equal(report, current.Next!.Progress);
        Assert.Equal([JobEffect.WriteState], current.Effects);

        // An earlier attempt's handler (it ignored its timeout) and a cancelled attempt's handler are both ignored.
        var ofAnotherAttempt = Machine.Apply(running, new JobEvent.ProgressReported(Now, 2, report), TimeSpan.FromSeconds(15));
        Assert.Empty(ofAnotherAttempt.Effects);
        Assert.Null(ofAnotherAttempt.Next!.Progress);
        var cancelled = running with { CancelRequestedAt = Now };
        Assert.Empty(Machine.Apply(cancelled, new JobEvent.ProgressReported(Now, 1, report), TimeSpan.FromSeconds(15)).Effects);
    }
}
