using System.Collections.Concurrent;
using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Infrastructure;

[JobType("test_echo")]
public sealed record Echo(string Value);

[JobType("test_flaky")]
public sealed record Flaky(int FailTimes);

[JobType("test_permanent")]
public sealed record Permanent(string Reason);

[JobType("test_nonretryable")]
public sealed record NonRetryable(string Reason);

[JobType("test_slow")]
public sealed record Slow(int Milliseconds);

/// <summary>Blocks until the test opens the named gate; counts how many run at once per gate.</summary>
[JobType("test_gate")]
public sealed record Gate(string Name);

/// <summary>What test handlers observed, keyed by job id or gate name. Tests use fresh keys, so they never collide.</summary>
public static class TestJobLog
{
    public static ConcurrentDictionary<string, int> Executions { get; } = new();
    public static ConcurrentDictionary<string, int> Completions { get; } = new();
    public static ConcurrentDictionary<string, TaskCompletionSource> Gates { get; } = new();
    public static ConcurrentDictionary<string, int> Running { get; } = new();
    public static ConcurrentDictionary<string, int> MaxRunning { get; } = new();

    public static TaskCompletionSource GateFor(string name) =>
        Gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public static void Open(string name) => GateFor(name).TrySetResult();

    public static int ExecutionsOf(string jobId) => Executions.GetValueOrDefault(jobId);

    internal static void Executed(JobContext context) => Executions.AddOrUpdate(context.JobId, 1, (_, n) => n + 1);
}

public static class TestJobRegistration
{
    public static JobTypeRegistryBuilder AddTestJobs(this JobTypeRegistryBuilder jobs) => jobs
        .Add<EchoHandler>()
        .Add<FlakyHandler>(o => o.MinBackoff = TimeSpan.FromMilliseconds(100))
        .Add<PermanentHandler>()
        .Add<NonRetryableHandler>(o => o.DoNotRetryOn<InvalidOperationException>())
        .Add<SlowHandler>()
        .Add<GateHandler>();
}

public sealed class EchoHandler : IJobHandler<Echo, string>
{
    public Task<string> HandleAsync(Echo payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        return Task.FromResult(payload.Value);
    }
}

public sealed class FlakyHandler : IJobHandler<Flaky, int>
{
    public Task<int> HandleAsync(Flaky payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        return context.Attempt <= payload.FailTimes
            ? throw new InvalidDataException($"flaky failure on attempt {context.Attempt}")
            : Task.FromResult(context.Attempt);
    }
}

public sealed class PermanentHandler : IJobHandler<Permanent, bool>
{
    public Task<bool> HandleAsync(Permanent payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        throw new PermanentJobFailureException(payload.Reason);
    }
}

public sealed class NonRetryableHandler : IJobHandler<NonRetryable, bool>
{
    public Task<bool> HandleAsync(NonRetryable payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        throw new InvalidOperationException(payload.Reason);
    }
}

public sealed class SlowHandler : IJobHandler<Slow, bool>
{
    public async Task<bool> HandleAsync(Slow payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        await Task.Delay(payload.Milliseconds, cancellationToken);
        TestJobLog.Completions.AddOrUpdate(context.JobId, 1, (_, n) => n + 1);
        return true;
    }
}

public sealed class GateHandler : IJobHandler<Gate, string>
{
    public async Task<string> HandleAsync(Gate payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        var now = TestJobLog.Running.AddOrUpdate(payload.Name, 1, (_, n) => n + 1);
        TestJobLog.MaxRunning.AddOrUpdate(payload.Name, now, (_, max) => Math.Max(max, now));
        try
        {
            await TestJobLog.GateFor(payload.Name).Task.WaitAsync(cancellationToken);
            return "released";
        }
        finally
        {
            TestJobLog.Running.AddOrUpdate(payload.Name, 0, (_, n) => n - 1);
        }
    }
}
