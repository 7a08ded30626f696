using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Jobs;

/// <summary>One job in a listing: no payload, result or history (read the job for those).</summary>
public sealed record JobSummaryResponse(
    string Id,
    string Type,
    string Status,
    int Attempts,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? FinishedAt,
    DateTime? NextAttemptAt,
    JobErrorResponse? LastError,
    int Round,
    DateTime? ExpiresAt)
{
    public static JobSummaryResponse From(JobSummary s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return new(s.Id, s.Type, s.Status.ToWireName(), s.Attempts, s.CreatedAt.UtcDateTime, s.StartedAt?.UtcDateTime,
            s.FinishedAt?.UtcDateTime, s.NextAttemptAt?.UtcDateTime, JobErrorResponse.From(s.LastError), s.Round, s.ExpiresAt?.UtcDateTime);
    }
}

/// <summary><c>GET /jobs</c>: a page, newest first, and the cursor of the next (null after the last).</summary>
public sealed record JobPageResponse(IReadOnlyList<JobSummaryResponse> Items, string? NextCursor);

/// <summary><c>GET /jobs/counts</c>.</summary>
public sealed record JobCountsResponse(long Scheduled, long Queued, long Running, long Retrying, long Succeeded, long Failed, long Cancelled)
{
    public static JobCountsResponse From(JobCounts c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new(c.Scheduled, c.Queued, c.Running, c.Retrying, c.Succeeded, c.Failed, c.Cancelled);
    }
}

/// <summary>Finding jobs: listing with filters and cursor paging, and counts per status.</summary>
public static class JobQueriesApi
{
    public const int DefaultLimit = 50;

    public static IEndpointRouteBuilder MapJobQueriesApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs").WithTags("Jobs").RequireAuthorization(ApiScopes.Read);
        jobs.MapGet("/", ListAsync)
            .WithName("ListJobs")
            .WithSummary("List and search jobs, newest first")
            .WithDescription("Filters combine with AND; status may repeat (OR). limit 1-500 (default 50). Pass nextCursor as cursor for the next page; a page may hold fewer than limit items while nextCursor is not null.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapGet("/counts", CountsAsync)
            .WithName("CountJobs")
            .WithSummary("Jobs per status, for all types or one")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<Ok<JobPageResponse>, ValidationProblem>> ListAsync(
        JobClient jobs, string[]? status, string? type, string? createdAfter, string? createdBefore, string? idPrefix, string? limit, string? cursor)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var errors = new Dictionary<string, string[]>();
        var filter = ParseFilter(status, type, createdAfter, createdBefore, idPrefix, errors);
        var size = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > JobPage.MaxLimit))
        {
            errors["limit"] = [$"must be a whole number from 1 to {JobPage.MaxLimit}."];
        }

        if (cursor is not null && !JobCursor.TryDecode(cursor, out _))
        {
            errors["cursor"] = ["is not a cursor a listing returned (pass nextCursor unchanged)."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, "The listing's parameters are invalid.");
        }

        var page = await jobs.ListAsync(filter, size, cursor);
        return TypedResults.Ok(new JobPageResponse([.. page.Items.Select(JobSummaryResponse.From)], page.NextCursor));
    }

    public static async Task<Results<Ok<JobCountsResponse>, ValidationProblem>> CountsAsync(JobClient jobs, string? type)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        if (type is not null && new JobFilter { Type = type }.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors, "The type is invalid.");
        }

        return TypedResults.Ok(JobCountsResponse.From(await jobs.CountsAsync(type)));
    }

    /// <summary>
    /// Reads the filter fields shared by the listing and bulk operations; problems go to <paramref name="errors"/>
    /// under the parameter's name.
    /// </summary>
    public static JobFilter ParseFilter(IEnumerable<string>? status, string? type, string? createdAfter, string? createdBefore, string? idPrefix,
        Dictionary<string, string[]> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var statuses = new List<JobStatus>();
        foreach (var name in (status ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (Enum.GetValues<JobStatus>().FirstOrDefault(s => string.Equals(s.ToWireName(), name, StringComparison.OrdinalIgnoreCase)) is var parsed
                && string.Equals(parsed.ToWireName(), name, StringComparison.OrdinalIgnoreCase))
            {
                statuses.Add(parsed);
            }
            else
            {
                errors["status"] = [$"'{name}' is not a status; use scheduled, queued, running, retrying, succeeded, failed or cancelled."];
            }
        }

        var filter = new JobFilter
        {
            Statuses = statuses,
            Type = type,
            CreatedAfter = ParseTime(createdAfter, "createdAfter", errors),
            CreatedBefore = ParseTime(createdBefore, "createdBefore", errors),
            IdPrefix = idPrefix,
        };
        foreach (var (key, value) in filter.Validate())
        {
            errors.TryAdd(key, value);
        }

        return filter;
    }

    private static DateTimeOffset? ParseTime(string? text, string name, Dictionary<string, string[]> errors)
    {
        if (text is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            return value;
        }

        errors[name] = ["must be an ISO 8601 date and time, e.g. 2026-11-29T12:00:00Z."];
        return null;
    }
}
