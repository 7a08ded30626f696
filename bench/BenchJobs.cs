using System.Collections.Concurrent;
using System.Diagnostics;
using Hangfire;
using OrleansTasks.Jobs;

namespace OrleansTasks.Bench;

/// <summary>What the benchmark jobs observed; reset before every run. Both systems' handlers report here.</summary>
public static class Probe
{
    private static long _done;

    public static long Done => Interlocked.Read(ref _done);

    /// <summary>Enqueue → handler start, in milliseconds.</summary>
    public static ConcurrentQueue<double> PickupMs { get; } = new();

    /// <summary>Actual minus planned retry start, in milliseconds.</summary>
    public static ConcurrentQueue<double> RetryErrorMs { get; } = new();

    /// <summary>Schedule occurrence's planned instant → its job's handler start, in milliseconds.</summary>
    public static ConcurrentQueue<double> ScheduleLagMs { get; } = new();

    /// <summary>Hangfire has no planned-start field: its fail-once job remembers when it failed.</summary>
    public static ConcurrentDictionary<string, long> FailedAt { get; } = new();

    public static void Reset()
    {
        Interlocked.Exchange(ref _done, 0);
        PickupMs.Clear();
        RetryErrorMs.Clear();
        FailedAt.Clear();
        ScheduleLagMs.Clear();
    }

    public static void Picked(long enqueuedAt)
    {
        if (enqueuedAt > 0)
        {
            PickupMs.Enqueue(Stopwatch.GetElapsedTime(enqueuedAt).TotalMilliseconds);
        }

        Interlocked.Increment(ref _done);
    }

    public static void Finished() => Interlocked.Increment(ref _done);
}

// ---- OrleansTasks side ----

/// <param name="EnqueuedAt">Stopwatch timestamp taken just before the enqueue call; 0 when pickup is not measured.</param>
[JobType("bench_noop")]
public sealed record BenchNoop(long EnqueuedAt);

[JobType("bench_fail_once")]
public sealed record BenchFailOnce(string Key);

public sealed class BenchNoopHandler : IJobHandler<BenchNoop, bool>
{
    public Task<bool> HandleAsync(BenchNoop payload, JobContext context, CancellationToken cancellationToken)
    {
        Probe.Picked(payload.EnqueuedAt);
        return Task.FromResult(true);
    }
}

public sealed class BenchFailOnceHandler : IJobHandler<BenchFailOnce, bool>
{
    public Task<bool> HandleAsync(BenchFailOnce payload, JobContext context, CancellationToken cancellationToken)
    {
        if (context.Attempt == 1)
        {
            throw new InvalidOperationException("fails once");
        }

        Probe.RetryErrorMs.Enqueue((DateTimeOffset.UtcNow - context.PlannedStart!.Value).TotalMilliseconds);
        Probe.Finished();
        return Task.FromResult(true);
    }
}

/// <summary>The job of a schedule occurrence: measures how late it starts against the instant its id names.</summary>
[JobType("bench_schedule_probe")]
public sealed record BenchScheduleProbe(string Tag);

public sealed class BenchScheduleProbeHandler : IJobHandler<BenchScheduleProbe, bool>
{
    public Task<bool> HandleAsync(BenchScheduleProbe payload, JobContext context, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;

        // {scheduleId}:{yyyyMMddTHHmmssZ}
        var instant = DateTimeOffset.ParseExact(context.JobId[(context.JobId.LastIndexOf(':') + 1)..], "yyyyMMdd'T'HHmmss'Z'",
            System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
        Probe.ScheduleLagMs.Enqueue((now - instant).TotalMilliseconds);
        Probe.Finished();
        return Task.FromResult(true);
    }
}

public static class BenchJobRegistration
{
    public static JobTypeRegistryBuilder AddBenchJobs(this JobTypeRegistryBuilder jobs) => jobs
        .Add<BenchNoopHandler>()
        .Add<BenchScheduleProbeHandler>()
        .Add<BenchFailOnceHandler>(o =>
        {
            // A 1 s retry, as Hangfire's DelaysInSeconds = { 1 }.
            o.MinBackoff = TimeSpan.FromSeconds(1);
            o.MaxBackoff = TimeSpan.FromSeconds(1);
        });
}

// ---- Hangfire side ----

public static class HangfireJobs
{
    public static void Noop(long enqueuedAt) => Probe.Picked(enqueuedAt);

    [AutomaticRetry(Attempts = 1, DelaysInSeconds = [1])]
    public static void FailOnce(string key)
    {
        if (Probe.FailedAt.TryAdd(key, Stopwatch.GetTimestamp()))
        {
            throw new InvalidOperationException("fails once");
        }

        Probe.RetryErrorMs.Enqueue(Stopwatch.GetElapsedTime(Probe.FailedAt[key]).TotalMilliseconds - 1000);
        Probe.Finished();
    }
}
