using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Jobs;

/// <summary>
/// <c>POST /jobs</c> body. Only <c>type</c> is required. Durations are ISO 8601 (<c>"PT30S"</c>) or hh:mm:ss.
/// </summary>
/// <param name="Type">A registered job type, e.g. <c>send_welcome_email</c>.</param>
/// <param name="Payload">A JSON object matching the job type's payload; omitted means <c>{}</c>.</param>
/// <param name="Id">1–128 characters of A-Za-z0-9._:- ; omitted means a generated, time-sortable id.</param>
/// <param name="Delay">Start no earlier than this long from now.</param>
/// <param name="RunAt">Start no earlier than this instant (not with <paramref name="Delay"/>).</param>
/// <param name="MaxRetries">Retries after the first attempt (0–1000).</param>
/// <param name="MinBackoff">Backoff before the first retry.</param>
/// <param name="MaxBackoff">Cap of the doubling backoff.</param>
/// <param name="Timeout">Time limit of one attempt.</param>
/// <param name="CallbackUrl">
/// An absolute http or https URL the outcome is POSTed to, signed, when the job finishes; overrides the type's default.
/// </param>
/// <param name="StartBy">
/// The first attempt must start by this instant, or the job ends cancelled (lastError.type Expired) without running.
/// Not with <paramref name="MaxAge"/>.
/// </param>
/// <param name="MaxAge">Like <paramref name="StartBy"/>, as a duration from creation; a requeue starts it afresh.</param>
public sealed record SubmitJobRequest(
    string? Type,
    JsonElement? Payload = null,
    string? Id = null,
    TimeSpan? Delay = null,
    DateTimeOffset? RunAt = null,
    int? MaxRetries = null,
    TimeSpan? MinBackoff = null,
    TimeSpan? MaxBackoff = null,
    TimeSpan? Timeout = null,
    string? CallbackUrl = null,
    DateTimeOffset? StartBy = null,
    TimeSpan? MaxAge = null);

/// <summary>Submitting and reading jobs.</summary>
public static class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs").WithTags("Jobs");
        jobs.MapPost("/", SubmitAsync)
            .WithName("SubmitJob")
            .WithSummary("Enqueue a job")
            .WithDescription("202 with the new job; 200 when the id already names the same job; 409 when it names a different one. A caller without the read scope gets only { id, status }.")
            .RequireAuthorization(ApiScopes.Write)
            .AddEndpointFilter(ReceiptOnlyWithoutRead.InvokeAsync)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapGet("/{id}", GetAsync)
            .WithName("GetJob")
            .WithSummary("Read a job's state")
            .RequireAuthorization(ApiScopes.Read)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapPost("/{id}/cancel", CancelAsync)
            .WithName("CancelJob")
            .WithSummary("Cancel a job")
            .RequireAuthorization(ApiScopes.Admin)
            .WithDescription("200 with the job now cancelled (it was waiting, or already cancelled); 202 with the job when it is running: its handler's token fires and it becomes cancelled when the handler returns or after Jobs:CancelGrace; 409 for a succeeded or failed job.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapPost("/{id}/requeue", RequeueAsync)
            .WithName("RequeueJob")
            .WithSummary("Run a finished job again")
            .RequireAuthorization(ApiScopes.Admin)
            .WithDescription("202 with the job: a succeeded, failed or cancelled job runs again as a new round with a fresh attempt budget; its history is kept. 409 when it is not finished.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapDelete("/{id}", DeleteAsync)
            .WithName("DeleteJob")
            .WithSummary("Delete a finished job")
            .RequireAuthorization(ApiScopes.Admin)
            .WithDescription("204: the job's state is removed and its id may be used again. 409 when it is not finished (cancel it first).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/job-types", GetJobTypesAsync)
            .WithTags("Jobs")
            .WithName("GetJobTypes")
            .WithSummary("List the registered job types with their default options")
            .RequireAuthorization(ApiScopes.Read);
        return app;
    }

    public static async Task<Results<Accepted<JobResponse>, Ok<JobResponse>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        SubmitJobRequest request, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(jobs);
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Type))
        {
            errors["type"] = ["is required."];
        }

        var id = request.Id ?? JobId.New();
        if (JobId.Validate(id) is { } idProblem)
        {
            errors["id"] = [idProblem];
        }

        if (request.Payload is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Undefined) })
        {
            errors["payload"] = ["must be a JSON object."];
        }

        // The shape is checked here; which hosts may be called is the silos' setting, checked there (also a 400).
        if (request.CallbackUrl is not null && CallbackUrl.Validate(request.CallbackUrl) is { } callbackProblem)
        {
            errors["callbackUrl"] = [callbackProblem];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, "The job request is invalid.");
        }

        var options = new JobOptions
        {
            MaxRetries = request.MaxRetries,
            MinBackoff = request.MinBackoff,
            MaxBackoff = request.MaxBackoff,
            Timeout = request.Timeout,
            Delay = request.Delay,
            RunAt = request.RunAt,
            CallbackUrl = request.CallbackUrl,
            StartBy = request.StartBy,
            MaxAge = request.MaxAge,
        };
        var payload = request.Payload is { ValueKind: JsonValueKind.Object } body ? body.GetRawText() : "{}";
        var result = await jobs.EnqueueAsync(request.Type!, payload, options, id);
        return ToHttpResult(result);
    }

    /// <summary>How an enqueue answer reads over HTTP; shared by the example endpoints.</summary>
    public static Results<Accepted<JobResponse>, Ok<JobResponse>, ValidationProblem, ProblemHttpResult> ToHttpResult(EnqueueResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Outcome switch
        {
            EnqueueOutcome.Created => TypedResults.Accepted(Location(result.Snapshot!.Id), JobResponse.From(result.Snapshot)),
            EnqueueOutcome.Existing => TypedResults.Ok(JobResponse.From(result.Snapshot!)),
            EnqueueOutcome.Conflict => TypedResults.Problem(result.Detail, statusCode: StatusCodes.Status409Conflict, title: "A different job already has this id"),
            EnqueueOutcome.Unavailable => TypedResults.Problem(result.Detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not every live silo supports this request yet"),
            _ => TypedResults.ValidationProblem(result.Errors ?? new Dictionary<string, string[]>(), result.Detail, title: "The job request is invalid"),
        };
    }

    public static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> GetAsync(string id, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var snapshot = await jobs.GetAsync(id);
        return snapshot is null
            ? TypedResults.Problem($"No job has the id '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Job not found")
            : TypedResults.Ok(JobResponse.From(snapshot));
    }

    public static async Task<Results<Ok<JobResponse>, Accepted<JobResponse>, ProblemHttpResult>> CancelAsync(string id, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var result = await jobs.CancelAsync(id);
        return result.Outcome switch
        {
            JobCommandOutcome.Done => TypedResults.Ok(JobResponse.From(result.Snapshot!)),
            JobCommandOutcome.Accepted => TypedResults.Accepted(Location(id), JobResponse.From(result.Snapshot!)),
            _ => Refusal(id, result),
        };
    }

    public static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> RequeueAsync(string id, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var result = await jobs.RequeueAsync(id);
        return result.Outcome == JobCommandOutcome.Done
            ? TypedResults.Accepted(Location(id), JobResponse.From(result.Snapshot!))
            : Refusal(id, result);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var result = await jobs.DeleteAsync(id);
        return result.Outcome == JobCommandOutcome.Done ? TypedResults.NoContent() : Refusal(id, result);
    }

    private static ProblemHttpResult Refusal(string id, JobCommandResult result) => result.Outcome == JobCommandOutcome.NotFound
        ? TypedResults.Problem($"No job has the id '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Job not found")
        : TypedResults.Problem(result.Detail, statusCode: StatusCodes.Status409Conflict, title: "The job's state does not allow this");

    public static async Task<Ok<JobTypeResponse[]>> GetJobTypesAsync(JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return TypedResults.Ok((await jobs.GetJobTypesAsync()).Select(JobTypeResponse.From).ToArray());
    }

    public static string Location(string id) => $"/jobs/{Uri.EscapeDataString(id)}";
}
