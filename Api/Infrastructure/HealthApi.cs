using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansTasks.Health;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>Health status body.</summary>
public sealed record HealthResponse(string Status);

/// <summary>Liveness (the process answers) and readiness (the job cluster and its storage answer).</summary>
public static partial class HealthApi
{
    /// <summary>The whole 503 detail: probes are anonymous, so the cause goes to the log, not to the caller.</summary>
    public const string NotAnswering = "The job cluster or its storage is not answering.";

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        // Probes come from orchestrators that hold no key; they reveal nothing beyond up or not.
        var health = app.MapGroup("/health").WithTags("Health").AllowAnonymous();
        health.MapGet("/live", () => TypedResults.Ok(new HealthResponse("live"))).WithName("Live").WithSummary("The API process is up");
        health.MapGet("/ready", ReadyAsync).WithName("Ready").WithSummary("The job cluster and its storage answer through this API")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> ReadyAsync(
        IGrainFactory grains, IOptions<ApiOptions> options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        var logger = loggers.CreateLogger(typeof(HealthApi).FullName!);
        try
        {
            if (await grains.GetGrain<IHealthGrain>(0).IsStorageAnsweringAsync().WaitAsync(options.Value.ReadinessTimeout))
            {
                return TypedResults.Ok(new HealthResponse("ready"));
            }

            LogStorageNotAnswering(logger);
        }
        catch (Exception ex)
        {
            // Whatever fails here (no gateway, a timeout, a rejected message), the cluster is not ready.
            LogClusterNotAnswering(logger, ex, options.Value.ReadinessTimeout);
        }

        return TypedResults.Problem(NotAnswering, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready");
    }

    [LoggerMessage(410, LogLevel.Warning, "Not ready: the silo reports that the job storage is not answering (details in the silo's log)")]
    private static partial void LogStorageNotAnswering(ILogger logger);

    [LoggerMessage(411, LogLevel.Warning, "Not ready: the job cluster did not answer within {Timeout}")]
    private static partial void LogClusterNotAnswering(ILogger logger, Exception exception, TimeSpan timeout);
}
