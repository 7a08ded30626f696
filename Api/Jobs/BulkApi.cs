using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Jobs;

/// <summary>The filter of a bulk operation: the fields of <c>GET /jobs</c>, with <c>status</c> as an array.</summary>
/// <param name="Status">Any of these statuses (scheduled, queued, running, retrying, succeeded, failed, cancelled); empty or omitted: any.</param>
/// <param name="Type">One job type.</param>
/// <param name="CreatedAfter">Created strictly after this instant (ISO 8601).</param>
/// <param name="CreatedBefore">Created strictly before this instant (ISO 8601).</param>
/// <param name="IdPrefix">Ids starting with this.</param>
public sealed record BulkFilterRequest(
    string[]? Status = null,
    string? Type = null,
    string? CreatedAfter = null,
    string? CreatedBefore = null,
    string? IdPrefix = null);

/// <summary><c>POST /jobs/bulk</c> body.</summary>
/// <param name="Action"><c>cancel</c>, <c>requeue</c> or <c>delete</c>.</param>
/// <param name="Filter">Which jobs; required, and <c>{}</c> means every job (the dashboard confirms with a dry run first).</param>
/// <param name="DryRun">True to only count the matching jobs: 200 <c>{ "matched": n }</c>, nothing changes.</param>
public sealed record BulkRequest(string? Action, BulkFilterRequest? Filter, bool? DryRun = null);

/// <summary>A bulk operation's filter as given.</summary>
public sealed record BulkFilterResponse(string[] Status, string? Type, DateTime? CreatedAfter, DateTime? CreatedBefore, string? IdPrefix)
{
    public static BulkFilterResponse From(JobFilter f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return new([.. f.Statuses.Select(s => s.ToWireName())], f.Type, f.CreatedAfter?.UtcDateTime, f.CreatedBefore?.UtcDateTime, f.IdPrefix);
    }
}

/// <summary>A bulk operation: <c>status</c> is <c>running</c> or <c>completed</c>; <c>silo</c> is where it is held now.</summary>
public sealed record BulkOperationResponse(
    string Id,
    string Action,
    BulkFilterResponse Filter,
    string Status,
    long Matched,
    long Done,
    long Failed,
    DateTime CreatedAt,
    DateTime? FinishedAt,
    string? Silo)
{
    public static BulkOperationResponse From(BulkOperationStatus s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return new(s.Id, s.Action.ToWireName(), BulkFilterResponse.From(s.Filter), s.Completed ? "completed" : "running",
            s.Matched, s.Done, s.Failed, s.CreatedAt.UtcDateTime, s.FinishedAt?.UtcDateTime, s.Silo);
    }
}

/// <summary><c>POST /jobs/bulk</c> with <c>"dryRun": true</c>.</summary>
public sealed record BulkDryRunResponse(long Matched);

/// <summary>Bulk cancel, requeue and delete over the jobs a filter matches.</summary>
public static class BulkApi
{
    public static IEndpointRouteBuilder MapBulkApi(this IEndpointRouteBuilder app)
    {
        var bulk = app.MapGroup("/jobs/bulk").WithTags("Jobs");
        bulk.MapPost("/", StartAsync)
            .WithName("StartBulkOperation")
            .WithSummary("Cancel, requeue or delete every job a filter matches")
            .WithDescription("202 with the operation and its Location; it runs in the background over the jobs that exist now. With dryRun: 200 { matched } and nothing changes. The filter is required; {} matches every job. Validation errors name action or filter.<field>.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .RequireAuthorization(ApiScopes.Admin);
        bulk.MapGet("/{operationId}", GetAsync)
            .WithName("GetBulkOperation")
            .WithSummary("Read a bulk operation's progress")
            .RequireAuthorization(ApiScopes.Read)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<Accepted<BulkOperationResponse>, Ok<BulkDryRunResponse>, ValidationProblem>> StartAsync(BulkRequest request, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(jobs);
        var errors = new Dictionary<string, string[]>();
        var action = BulkActionExtensions.FromWireName(request.Action);
        if (action is null)
        {
            errors["action"] = ["must be cancel, requeue or delete."];
        }

        JobFilter? filter = null;
        if (request.Filter is not { } given)
        {
            // Required so that a forgotten filter cannot mean "every job"; {} says so on purpose.
            errors["filter"] = ["is required; {} matches every job."];
        }
        else
        {
            var filterErrors = new Dictionary<string, string[]>();
            filter = JobQueriesApi.ParseFilter(given.Status, given.Type, given.CreatedAfter, given.CreatedBefore, given.IdPrefix, filterErrors);
            foreach (var (field, messages) in filterErrors)
            {
                errors[$"filter.{field}"] = messages;
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, "The bulk request is invalid.");
        }

        if (request.DryRun == true)
        {
            return TypedResults.Ok(new BulkDryRunResponse(await jobs.CountMatchingAsync(filter!)));
        }

        var started = await jobs.StartBulkAsync(action!.Value, filter!);
        return TypedResults.Accepted(Location(started.Id), BulkOperationResponse.From(started));
    }

    public static async Task<Results<Ok<BulkOperationResponse>, ProblemHttpResult>> GetAsync(string operationId, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return await jobs.GetBulkAsync(operationId) is { } operation
            ? TypedResults.Ok(BulkOperationResponse.From(operation))
            : TypedResults.Problem($"No bulk operation has the id '{operationId}'.", statusCode: StatusCodes.Status404NotFound, title: "Bulk operation not found");
    }

    public static string Location(string operationId) => $"/jobs/bulk/{Uri.EscapeDataString(operationId)}";
}
