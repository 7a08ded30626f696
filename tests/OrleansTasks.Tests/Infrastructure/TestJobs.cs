using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
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

/// <summary>Waits for its gate without looking at its cancellation token: a handler that ignores timeouts and hand-offs.</summary>
[JobType("test_stubborn")]
public sealed record Stubborn(string Gate);

/// <summary>Runs until its token fires (a cooperative long job); records that it saw the cancellation.</summary>
[JobType("test_until_cancelled")]
public sealed record UntilCancelled(string Name);

/// <summary>Records the scoped and transient dependencies it was given, under its job id.</summary>
[JobType("test_scoped")]
public sealed record Scoped(string Gate);

/// <summary>Returns a string of the given length (to test the result size limit).</summary>
[JobType("test_big_result")]
public sealed record BigResult(int Characters);

/// <summary>What test handlers observed, keyed by job id or gate name. Tests use fresh keys, so they never collide.</summary>
public static class TestJobLog
{
    public static ConcurrentDictionary<string, int> Executions { get; } = new();
    public static ConcurrentDictionary<string, int> Completions { get; } = new();
    public static ConcurrentDictionary<string, TaskCompletionSource> Gates { get; } = new();
    public static ConcurrentDictionary<string, int> Running { get; } = new();
    public static ConcurrentDictionary<string, int> MaxRunning { get; } = new();

    /// <summary>Per job id: the scoped dependency seen twice in the attempt, the transient one, and the handler.</summary>
    public static ConcurrentDictionary<string, (ScopedDependency First, ScopedDependency Second, DisposableDependency Transient, ScopedHandler Handler)> Scopes { get; } = new();

    public static TaskCompletionSource GateFor(string name) =>
        Gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public static void Open(string name) => GateFor(name).TrySetResult();

    public static int ExecutionsOf(string jobId) => Executions.GetValueOrDefault(jobId);

    /// <summary>
    /// A handler released on a silo the test has crashed never returns, as in a killed process: otherwise it would
    /// free its slot and let the stopped silo's leftover tasks write to Redis.
    /// </summary>
    public static Task NeverOnACrashedSiloAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        services.GetService<SiloLife>() is { Crashed: true } ? Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken) : Task.CompletedTask;

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
        .Add<GateHandler>()
        .Add<StubbornHandler>(o => o.Timeout = TimeSpan.FromMilliseconds(300))
        .Add<UntilCancelledHandler>()
        .Add<ScopedHandler>()
        .Add<BigResultHandler>()
        .AddProgressTestJobs()
        .AddScopedTestServices();

    private static JobTypeRegistryBuilder AddScopedTestServices(this JobTypeRegistryBuilder jobs)
    {
        jobs.Services.AddScoped<ScopedDependency>();
        jobs.Services.AddTransient<DisposableDependency>();
        return jobs;
    }
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

public sealed class GateHandler(IServiceProvider services) : IJobHandler<Gate, string>
{
    public async Task<string> HandleAsync(Gate payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        var now = TestJobLog.Running.AddOrUpdate(payload.Name, 1, (_, n) => n + 1);
        TestJobLog.MaxRunning.AddOrUpdate(payload.Name, now, (_, max) => Math.Max(max, now));
        try
        {
            await TestJobLog.GateFor(payload.Name).Task.WaitAsync(cancellationToken);
            await TestJobLog.NeverOnACrashedSiloAsync(services, cancellationToken);
            return "released";
        }
        finally
        {
            TestJobLog.Running.AddOrUpdate(payload.Name, 0, (_, n) => n - 1);
        }
    }
}

public sealed class StubbornHandler(IServiceProvider services) : IJobHandler<Stubborn, string>
{
    public async Task<string> HandleAsync(Stubborn payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        await TestJobLog.GateFor(payload.Gate).Task;
        await TestJobLog.NeverOnACrashedSiloAsync(services, CancellationToken.None);
        return "finally";
    }
}

public sealed class ScopedDependency : IDisposable
{
    public bool Disposed { get; private set; }

    public void Dispose() => Disposed = true;
}

public sealed class DisposableDependency : IAsyncDisposable
{
    public bool Disposed { get; private set; }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}

public sealed class ScopedHandler(ScopedDependency scoped, DisposableDependency transient, IServiceProvider services) : IJobHandler<Scoped, bool>, IAsyncDisposable
{
    public bool Disposed { get; private set; }

    public async Task<bool> HandleAsync(Scoped payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        TestJobLog.Scopes[context.JobId] = (scoped, services.GetRequiredService<ScopedDependency>(), transient, this);
        await TestJobLog.GateFor(payload.Gate).Task.WaitAsync(cancellationToken);
        return true;
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}

public sealed class BigResultHandler : IJobHandler<BigResult, string>
{
    public Task<string> HandleAsync(BigResult payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        return Task.FromResult(new string('x', payload.Characters));
    }
}

public sealed class UntilCancelledHandler : IJobHandler<UntilCancelled, bool>
{
    public async Task<bool> HandleAsync(UntilCancelled payload, JobContext context, CancellationToken cancellationToken)
    {
        TestJobLog.Executed(context);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        }
        finally
        {
            TestJobLog.Completions.AddOrUpdate(context.JobId, 1, (_, n) => n + 1);
        }

        return true;
    }
}
