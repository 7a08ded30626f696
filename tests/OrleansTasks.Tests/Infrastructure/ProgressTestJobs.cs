using System.Collections.Concurrent;
using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>
/// Reports progress <paramref name="Reports"/> times (percent i·100/Reports, detail {step: i}), <paramref name="PauseMs"/>
/// apart, in its first <paramref name="FailTimes"/> attempts, each of which then fails; later attempts succeed at once.
/// </summary>
[JobType("test_progress")]
public sealed record ProgressBurst(int Reports, int FailTimes, int PauseMs = 0);

/// <summary>Waits for its gate (honouring its token), then reports 50 % and 100 %, and succeeds.</summary>
[JobType("test_progress_gate")]
public sealed record ProgressGate(string Gate);

public static class ProgressTestJobs
{
    /// <summary>Per job id and attempt: the <see cref="JobContext.LastProgress"/> the attempt was given.</summary>
    public static ConcurrentDictionary<(string JobId, int Attempt), JobProgress?> LastProgressSeen { get; } = new();

    public static JobTypeRegistryBuilder AddProgressTestJobs(this JobTypeRegistryBuilder jobs) => jobs
        .Add<ProgressBurstHandler>(o => o.MinBackoff = TimeSpan.FromMilliseconds(100))
        .Add<ProgressGateHandler>();
}

public sealed class ProgressBurstHandler : IJobHandler<ProgressBurst, int>
{
    public async Task<int> HandleAsync(ProgressBurst payload, JobContext context, CancellationToken cancellationToken)
    {
        ProgressTestJobs.LastProgressSeen[(context.JobId, context.Attempt)] = context.LastProgress;
        if (context.Attempt > payload.FailTimes)
        {
            return context.Attempt;
        }

        for (var i = 1; i <= payload.Reports; i++)
        {
            await context.ReportProgressAsync(i * 100.0 / payload.Reports, new { step = i });
            if (payload.PauseMs > 0)
            {
                await Task.Delay(payload.PauseMs, cancellationToken);
            }
        }

        throw new InvalidDataException($"failing attempt {context.Attempt} after its progress");
    }
}

public sealed class ProgressGateHandler : IJobHandler<ProgressGate, bool>
{
    public async Task<bool> HandleAsync(ProgressGate payload, JobContext context, CancellationToken cancellationToken)
    {
        await TestJobLog.GateFor(payload.Gate).Task.WaitAsync(cancellationToken);
        await context.ReportProgressAsync(50, new { half = true });
        await context.ReportProgressAsync(100);
        return true;
    }
}
