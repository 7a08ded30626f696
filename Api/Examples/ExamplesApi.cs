using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Api.Jobs;
using OrleansTasks.Examples;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Examples;

/// <summary><c>POST /signup</c> body, as the seed's Flask app takes it.</summary>
public sealed record SignupRequest(string? Email);

/// <summary><c>POST /create_report</c> body.</summary>
public sealed record CreateReportRequest(string? Id, JsonElement? Data);

/// <summary><c>POST /process_image</c> body, in the seed's snake_case.</summary>
public sealed record ProcessImageRequest(
    [property: JsonPropertyName("image_url")] string? ImageUrl,
    [property: JsonPropertyName("user_id")] long? UserId);

/// <summary>What the seed's endpoints answer: a sentence and the job to poll.</summary>
public sealed record JobAcceptedResponse(string Message, string JobId);

/// <summary>The seed's three endpoints: each a thin typed enqueue of an example job.</summary>
public static class ExamplesApi
{
    public static IEndpointRouteBuilder MapExamplesApi(this IEndpointRouteBuilder app)
    {
        // Their answers ({ message, jobId }) carry no job data, so a write-only caller may have them whole.
        var examples = app.MapGroup("/").WithTags("Examples").RequireAuthorization(ApiScopes.Write);
        examples.MapPost("/signup", SignupAsync).WithName("Signup").WithSummary("Sign up; sends a welcome e-mail in the background")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        examples.MapPost("/create_report", CreateReportAsync).WithName("CreateReport").WithSummary("Generate a report in the background")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        examples.MapPost("/process_image", ProcessImageAsync).WithName("ProcessImage").WithSummary("Process an image in the background")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static Task<Results<Accepted<JobAcceptedResponse>, ValidationProblem>> SignupAsync(SignupRequest request, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Email) || !new EmailAddressAttribute().IsValid(request.Email))
        {
            return Task.FromResult(Invalid("email", "must be an e-mail address."));
        }

        return EnqueueAsync(jobs, new SendWelcomeEmail(request.Email), "Signup successful. Welcome email will be sent shortly.");
    }

    public static Task<Results<Accepted<JobAcceptedResponse>, ValidationProblem>> CreateReportAsync(CreateReportRequest request, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Id))
        {
            errors["id"] = ["is required."];
        }

        if (request.Data is not { ValueKind: JsonValueKind.Object } data)
        {
            errors["data"] = ["is required and must be a JSON object."];
            return Task.FromResult(Invalid(errors));
        }

        return errors.Count > 0
            ? Task.FromResult(Invalid(errors))
            : EnqueueAsync(jobs, new GenerateReport(request.Id!, JsonObject.Create(data)!), "Report generation started.");
    }

    public static Task<Results<Accepted<JobAcceptedResponse>, ValidationProblem>> ProcessImageAsync(ProcessImageRequest request, JobClient jobs)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.ImageUrl) || !HttpUrlAttribute.IsHttpUrl(request.ImageUrl))
        {
            errors["image_url"] = ["is required and must be an absolute http or https URL."];
        }

        if (request.UserId is null)
        {
            errors["user_id"] = ["is required."];
        }

        return errors.Count > 0
            ? Task.FromResult(Invalid(errors))
            : EnqueueAsync(jobs, new ProcessImage(request.ImageUrl!, request.UserId!.Value), "Image processing started.");
    }

    private static async Task<Results<Accepted<JobAcceptedResponse>, ValidationProblem>> EnqueueAsync<TPayload>(
        JobClient jobs, TPayload payload, string message) where TPayload : notnull
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var result = await jobs.EnqueueAsync(payload);
        return result.Outcome == EnqueueOutcome.Created
            ? TypedResults.Accepted(JobsApi.Location(result.Snapshot!.Id), new JobAcceptedResponse(message, result.Snapshot.Id))
            : TypedResults.ValidationProblem(result.Errors ?? new Dictionary<string, string[]>(), result.Detail);
    }

    private static Results<Accepted<JobAcceptedResponse>, ValidationProblem> Invalid(string field, string message) =>
        Invalid(new Dictionary<string, string[]> { [field] = [message] });

    private static Results<Accepted<JobAcceptedResponse>, ValidationProblem> Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, "The request is invalid.");
}
