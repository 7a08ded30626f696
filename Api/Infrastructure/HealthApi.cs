using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>Health status body.</summary>
public sealed record HealthResponse(string Status);

/// <summary>Liveness (the process answers) and readiness (the job cluster answers).</summary>
public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health").WithTags("Health");
        health.MapGet("/live", () => TypedResults.Ok(new HealthResponse("live"))).WithName("Live").WithSummary("The API process is up");
        health.MapGet("/ready", ReadyAsync).WithName("Ready").WithSummary("The job cluster answers through this API")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> ReadyAsync(JobClient jobs, IOptions<ApiOptions> options)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            await jobs.GetJobTypesAsync().WaitAsync(options.Value.ReadinessTimeout);
            return TypedResults.Ok(new HealthResponse("ready"));
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException or InvalidOperationException)
        {
            return TypedResults.Problem($"The job cluster did not answer: {ex.Message}", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready");
        }
    }
}
