using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Api.Jobs;
using OrleansTasks.Jobs;
using OrleansTasks.Schedules;

namespace OrleansTasks.Api.Schedules;

/// <summary>
/// Retry and timeout options of a schedule's jobs; <c>maxAge</c>: an occurrence's job not started within this long of
/// its enqueue ends cancelled as Expired without running (an instant, <c>startBy</c>, makes no sense per occurrence).
/// </summary>
public sealed record ScheduleJobOptions(int? MaxRetries = null, TimeSpan? MinBackoff = null, TimeSpan? MaxBackoff = null, TimeSpan? Timeout = null,
    TimeSpan? MaxAge = null);

/// <summary>
/// <c>PUT /schedules/{id}</c> body: <c>type</c> and exactly one of <c>cron</c> and <c>every</c> are required.
/// </summary>
/// <param name="Type">A registered job type.</param>
/// <param name="Payload">The jobs' payload (a JSON object; omitted means {}); validated like an enqueue's.</param>
/// <param name="Cron">5 fields, or 6 with seconds first.</param>
/// <param name="Every">A fixed interval of at least 1 s (ISO 8601 or hh:mm:ss).</param>
/// <param name="TimeZone">IANA id the cron is read in; default UTC.</param>
/// <param name="StartAt">No occurrence before this instant.</param>
/// <param name="EndAt">No occurrence after this instant.</param>
/// <param name="Jitter">Each occurrence's job starts up to this much later (fixed per occurrence).</param>
/// <param name="Overlap">skip (default), allow, bufferOne or cancelOther.</param>
/// <param name="Misfire">runOnce (default), runAll or skip.</param>
/// <param name="CatchUpWindow">Occurrences missed by more than this are never caught up; default 1 hour.</param>
/// <param name="Options">maxRetries, minBackoff, maxBackoff and timeout of the jobs.</param>
public sealed record PutScheduleRequest(
    string? Type,
    JsonElement? Payload = null,
    string? Cron = null,
    TimeSpan? Every = null,
    string? TimeZone = null,
    DateTimeOffset? StartAt = null,
    DateTimeOffset? EndAt = null,
    TimeSpan? Jitter = null,
    string? Overlap = null,
    string? Misfire = null,
    TimeSpan? CatchUpWindow = null,
    ScheduleJobOptions? Options = null);

/// <summary><c>POST /schedules/{id}/pause</c> body.</summary>
public sealed record PauseScheduleRequest(string? Note = null);

/// <summary><c>POST /schedules/{id}/backfill</c> body: the occurrences in [from, to].</summary>
public sealed record BackfillScheduleRequest(DateTimeOffset? From, DateTimeOffset? To);

/// <summary>An occurrence the schedule handled: its job, or why it made none.</summary>
public sealed record ScheduleRunResponse(DateTime Occurrence, string Kind, string? JobId, string? Status, string? Skipped, DateTime FiredAt);

/// <summary>A schedule as the API shows it.</summary>
public sealed record ScheduleResponse(
    string Id,
    string Type,
    JsonElement Payload,
    string? Cron,
    TimeSpan? Every,
    string TimeZone,
    DateTime? StartAt,
    DateTime? EndAt,
    TimeSpan? Jitter,
    string Overlap,
    string Misfire,
    TimeSpan CatchUpWindow,
    ScheduleJobOptions Options,
    bool Paused,
    string? Note,
    IReadOnlyList<DateTime> NextRuns,
    IReadOnlyList<ScheduleRunResponse> RecentRuns,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    DateTime? LastOccurrence,
    DateTime? Buffered)
{
    public static ScheduleResponse From(ScheduleSnapshot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var d = s.Definition;
        using var payload = JsonDocument.Parse(d.PayloadJson);
        return new(s.Id, d.Type, payload.RootElement.Clone(), d.Cron, d.Every, d.TimeZone, d.StartAt?.UtcDateTime, d.EndAt?.UtcDateTime, d.Jitter,
            SchedulesApi.Name(d.Overlap), SchedulesApi.Name(d.Misfire), d.CatchUpWindow,
            new ScheduleJobOptions(d.Options.MaxRetries, d.Options.MinBackoff, d.Options.MaxBackoff, d.Options.Timeout, d.Options.MaxAge),
            s.Paused, s.Note, [.. s.NextRuns.Select(n => n.UtcDateTime)],
            [.. s.RecentRuns.Select(r => new ScheduleRunResponse(r.Occurrence.UtcDateTime, r.Kind, r.JobId, r.Status?.ToWireName(), r.Skipped, r.FiredAt.UtcDateTime))],
            s.CreatedAt.UtcDateTime, s.UpdatedAt.UtcDateTime, s.LastOccurrence?.UtcDateTime, s.Buffered?.UtcDateTime);
    }
}

/// <summary><c>GET /schedules</c>: a page in id order and the cursor of the next (null after the last).</summary>
public sealed record SchedulePageResponse(IReadOnlyList<ScheduleResponse> Items, string? NextCursor);

/// <summary><c>POST /schedules/{id}/trigger</c> and <c>/backfill</c>.</summary>
public sealed record ScheduleJobsResponse(IReadOnlyList<string> JobIds)
{
    /// <summary>The one job a trigger made.</summary>
    public string? JobId => JobIds.Count == 1 ? JobIds[0] : null;
}

/// <summary>Recurring schedules: cron or interval, pause, trigger, backfill.</summary>
public static class SchedulesApi
{
    public static IEndpointRouteBuilder MapSchedulesApi(this IEndpointRouteBuilder app)
    {
        var schedules = app.MapGroup("/schedules").WithTags("Schedules");
        schedules.MapPut("/{id}", PutAsync).WithName("PutSchedule").WithSummary("Create or replace a schedule")
            .WithDescription("201 created or 200 replaced (a replace keeps paused and what has fired); 400 naming each bad field.")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status503ServiceUnavailable).RequireAuthorization(ApiScopes.Admin);
        schedules.MapGet("/", ListAsync).WithName("ListSchedules").WithSummary("List schedules in id order, paged like GET /jobs")
            .ProducesValidationProblem().RequireAuthorization(ApiScopes.Read);
        schedules.MapGet("/{id}", GetAsync).WithName("GetSchedule").WithSummary("A schedule with its next 5 runs and latest 20 runs")
            .ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.Read);
        schedules.MapPost("/{id}/pause", PauseAsync).WithName("PauseSchedule").WithSummary("Pause a schedule, with a note")
            .ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.Admin);
        schedules.MapPost("/{id}/resume", ResumeAsync).WithName("ResumeSchedule").WithSummary("Resume a paused schedule (what fell while paused is not caught up)")
            .ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.Admin);
        schedules.MapPost("/{id}/trigger", TriggerAsync).WithName("TriggerSchedule").WithSummary("One extra run now")
            .ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.Admin);
        schedules.MapPost("/{id}/backfill", BackfillAsync).WithName("BackfillSchedule").WithSummary("A job for each occurrence in [from, to], at most 1,000")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.Admin);
        schedules.MapDelete("/{id}", DeleteAsync).WithName("DeleteSchedule").WithSummary("Delete a schedule; the jobs it made stay")
            .ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.Admin);
        return app;
    }

    public static async Task<Results<Created<ScheduleResponse>, Ok<ScheduleResponse>, ValidationProblem>> PutAsync(
        string id, PutScheduleRequest request, ScheduleClient schedules)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(schedules);
        var errors = new Dictionary<string, string[]>();
        if (ScheduleId.Validate(id) is { } idProblem)
        {
            errors["id"] = [idProblem];
        }

        if (string.IsNullOrWhiteSpace(request.Type))
        {
            errors["type"] = ["is required."];
        }

        if (request.Payload is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Undefined) })
        {
            errors["payload"] = ["must be a JSON object."];
        }

        var overlap = ParseEnum(request.Overlap, OverlapPolicy.Skip, "overlap", errors);
        var misfire = ParseEnum(request.Misfire, MisfirePolicy.RunOnce, "misfire", errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, "The schedule is invalid.");
        }

        var definition = new ScheduleDefinition
        {
            Type = request.Type!,
            PayloadJson = request.Payload is { ValueKind: JsonValueKind.Object } body ? body.GetRawText() : "{}",
            Cron = request.Cron,
            Every = request.Every,
            TimeZone = request.TimeZone ?? "UTC",
            StartAt = request.StartAt,
            EndAt = request.EndAt,
            Jitter = request.Jitter,
            Overlap = overlap,
            Misfire = misfire,
            CatchUpWindow = request.CatchUpWindow ?? TimeSpan.FromHours(1),
            Options = new JobOptions
            {
                MaxRetries = request.Options?.MaxRetries,
                MinBackoff = request.Options?.MinBackoff,
                MaxBackoff = request.Options?.MaxBackoff,
                Timeout = request.Options?.Timeout,
                MaxAge = request.Options?.MaxAge,
            },
        };
        var result = await schedules.UpsertAsync(id, definition);
        return result.Outcome switch
        {
            ScheduleOutcome.Created => TypedResults.Created(Location(id), ScheduleResponse.From(result.Snapshot!)),
            ScheduleOutcome.Replaced or ScheduleOutcome.Unchanged => TypedResults.Ok(ScheduleResponse.From(result.Snapshot!)),
            _ => TypedResults.ValidationProblem(result.Errors ?? new Dictionary<string, string[]>(), "The schedule is invalid."),
        };
    }

    public static async Task<Results<Ok<SchedulePageResponse>, ValidationProblem>> ListAsync(ScheduleClient schedules, string? limit, string? cursor)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        var size = JobQueriesApi.DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > JobPage.MaxLimit))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"must be a whole number from 1 to {JobPage.MaxLimit}."] });
        }

        if (cursor is not null && ScheduleId.Validate(cursor) is not null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["cursor"] = ["is not a cursor a listing returned."] });
        }

        var (items, next) = await schedules.ListAsync(size, cursor);
        return TypedResults.Ok(new SchedulePageResponse([.. items.Select(ScheduleResponse.From)], next));
    }

    public static async Task<Results<Ok<ScheduleResponse>, ProblemHttpResult>> GetAsync(string id, ScheduleClient schedules)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        return await schedules.GetAsync(id) is { } snapshot ? TypedResults.Ok(ScheduleResponse.From(snapshot)) : NotFound(id);
    }

    public static async Task<Results<Ok<ScheduleResponse>, ProblemHttpResult>> PauseAsync(string id, PauseScheduleRequest? request, ScheduleClient schedules)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        return ScheduleId.Validate(id) is not null ? NotFound(id) : Answer(id, await schedules.PauseAsync(id, request?.Note));
    }

    public static async Task<Results<Ok<ScheduleResponse>, ProblemHttpResult>> ResumeAsync(string id, ScheduleClient schedules)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        return ScheduleId.Validate(id) is not null ? NotFound(id) : Answer(id, await schedules.ResumeAsync(id));
    }

    public static async Task<Results<Accepted<ScheduleJobsResponse>, ProblemHttpResult>> TriggerAsync(string id, ScheduleClient schedules)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        if (ScheduleId.Validate(id) is not null)
        {
            return NotFound(id);
        }

        var result = await schedules.TriggerAsync(id);
        return result.Outcome == ScheduleOutcome.Done
            ? TypedResults.Accepted(result.JobIds.Count > 0 ? JobsApi.Location(result.JobIds[0]) : Location(id), new ScheduleJobsResponse(result.JobIds))
            : NotFound(id);
    }

    public static async Task<Results<Accepted<ScheduleJobsResponse>, ValidationProblem, ProblemHttpResult>> BackfillAsync(
        string id, BackfillScheduleRequest request, ScheduleClient schedules)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(schedules);
        var errors = new Dictionary<string, string[]>();
        if (request.From is null)
        {
            errors["from"] = ["is required."];
        }

        if (request.To is null)
        {
            errors["to"] = ["is required."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, "The backfill is invalid.");
        }

        if (ScheduleId.Validate(id) is not null)
        {
            return NotFound(id);
        }

        var result = await schedules.BackfillAsync(id, request.From!.Value, request.To!.Value);
        return result.Outcome switch
        {
            ScheduleOutcome.Done => TypedResults.Accepted(Location(id), new ScheduleJobsResponse(result.JobIds)),
            ScheduleOutcome.Invalid => TypedResults.ValidationProblem(result.Errors ?? new Dictionary<string, string[]>(), "The backfill is invalid."),
            _ => NotFound(id),
        };
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, ScheduleClient schedules)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        return await schedules.DeleteAsync(id) ? TypedResults.NoContent() : NotFound(id);
    }

    public static string Location(string id) => $"/schedules/{Uri.EscapeDataString(id)}";

    /// <summary>The camelCase wire name of a policy (<c>bufferOne</c>, <c>runOnce</c>).</summary>
    public static string Name<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    private static T ParseEnum<T>(string? text, T fallback, string field, Dictionary<string, string[]> errors) where T : struct, Enum
    {
        if (text is null)
        {
            return fallback;
        }

        foreach (var value in Enum.GetValues<T>())
        {
            if (string.Equals(Name(value), text, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        errors[field] = [$"must be one of {string.Join(", ", Enum.GetValues<T>().Select(Name))}."];
        return fallback;
    }

    private static Results<Ok<ScheduleResponse>, ProblemHttpResult> Answer(string id, ScheduleResult result) =>
        result.Outcome == ScheduleOutcome.Done ? TypedResults.Ok(ScheduleResponse.From(result.Snapshot!)) : NotFound(id);

    private static ProblemHttpResult NotFound(string id) =>
        TypedResults.Problem($"No schedule has the id '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Schedule not found");
}
