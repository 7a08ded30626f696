using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using OrleansTasks.Jobs;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>
/// Turns what escapes an endpoint into RFC 7807 problem details: bad bodies are the client's fault (4xx), an
/// unreachable cluster or Redis is a temporary outage (503), anything else is ours (500, logged, no internals shown).
/// </summary>
internal sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } => MalformedJson(json),
            BadHttpRequestException bad => new ProblemDetails
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Bad request",
                Detail = bad.Message,
            },
            JobStorageFullException full => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Job storage is nearly full",
                Detail = full.Message,
            },
            _ when IsOutage(exception) => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Job cluster unavailable",
                Detail = "The job cluster or its storage cannot be reached right now. Retry shortly with the same job id: if the request was in fact stored you get that job, never a second one.",
            },
            _ => null,
        };

        if (problem is null)
        {
            LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "Internal error",
                Detail = "An unexpected error occurred; it has been logged.",
            };
        }
        else if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            LogOutage(logger, exception.GetType().Name, exception.Message);
            httpContext.Response.Headers.RetryAfter = "5";
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    private static ValidationProblemDetails MalformedJson(JsonException json)
    {
        var field = json.Path is { Length: > 2 } path ? path[2..] : "body";
        var message = json.Path is { Length: > 2 } ? "has the wrong JSON type or format." : json.Message.Split(" Path: ", 2)[0];
        return new ValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request body is not valid JSON for this endpoint",
            Detail = json.Message,
        };
    }

    private static bool IsOutage(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is JobStorageUnavailableException or TimeoutException or OrleansException or System.Net.Sockets.SocketException
                || e.GetType().FullName?.StartsWith("StackExchange.Redis.", StringComparison.Ordinal) == true)
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(300, LogLevel.Error, "Unhandled error in {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(301, LogLevel.Warning, "Cluster or storage unavailable ({ExceptionType}: {Message}); answered 503")]
    private static partial void LogOutage(ILogger logger, string exceptionType, string message);
}
