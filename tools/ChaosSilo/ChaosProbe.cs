using Microsoft.Extensions.Configuration;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Chaos;

/// <summary>
/// The chaos tool's job: succeeds, fails once, always fails or runs slowly, and records every execution in Redis
/// so the tool can count executions against the stored attempt history.
/// </summary>
/// <param name="Mode"><c>ok</c>, <c>fail_once</c>, <c>always_fail</c> or <c>slow</c>.</param>
/// <param name="Milliseconds">How long a <c>slow</c> probe runs.</param>
[JobType(ChaosKeys.ProbeType)]
public sealed record ChaosProbe(string Mode, int Milliseconds = 0);

public sealed class ChaosProbeHandler(IConfiguration configuration) : IJobHandler<ChaosProbe, string>
{
    private static readonly Lock Gate = new();
    private static ConnectionMultiplexer? _redis;

    public async Task<string> HandleAsync(ChaosProbe payload, JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(context);
        await Redis().GetDatabase().ListRightPushAsync(ChaosKeys.Executions(context.JobId), $"{context.Attempt}|{DateTimeOffset.UtcNow:o}");
        switch (payload.Mode)
        {
            case "fail_once" when context.Attempt == 1:
                throw new InvalidOperationException("chaos: first attempt fails");
            case "always_fail":
                throw new InvalidOperationException("chaos: always fails");
            case "slow":
                await Task.Delay(payload.Milliseconds, cancellationToken);
                break;
        }

        return "ok";
    }

    private ConnectionMultiplexer Redis()
    {
        lock (Gate)
        {
            if (_redis is null)
            {
                var options = ConfigurationOptions.Parse(configuration["ConnectionStrings:Redis"]
                    ?? throw new InvalidOperationException("chaos_probe needs ConnectionStrings:Redis."));
                options.AbortOnConnectFail = false;
                _redis = ConnectionMultiplexer.Connect(options);
            }

            return _redis;
        }
    }
}

public static class ChaosJobs
{
    public static JobTypeRegistryBuilder AddChaosProbe(this JobTypeRegistryBuilder jobs) => jobs.Add<ChaosProbeHandler>();
}
