using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTasks.Api.Infrastructure;

namespace OrleansTasks.Api.Jobs;

/// <summary>What an enqueue answers a caller without the <c>read</c> scope: the id to hand on and the status, no job data.</summary>
public sealed record JobReceipt(string Id, string Status);

/// <summary>
/// Cuts an enqueue answer down to a <see cref="JobReceipt"/> for a caller without <c>read</c>: otherwise a write-only
/// key could read any job's payload and result by submitting its id again (the 200 "existing" answer).
/// </summary>
internal static class ReceiptOnlyWithoutRead
{
    public static async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        if (ApiScopes.Has(context.HttpContext.User, ApiScopes.Read))
        {
            return result;
        }

        return (result is INestedHttpResult nested ? nested.Result : result) switch
        {
            Accepted<JobResponse> { Value: { } job } accepted => TypedResults.Accepted(accepted.Location, new JobReceipt(job.Id, job.Status)),
            Ok<JobResponse> { Value: { } job } => TypedResults.Ok(new JobReceipt(job.Id, job.Status)),
            _ => result,
        };
    }
}
