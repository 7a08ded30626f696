using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OrleansTasks.Api.Examples;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Api.Jobs;
using OrleansTasks.Api.Observability;
using OrleansTasks.Api.Schedules;
using Scalar.AspNetCore;

if (ApiKeysCommand.Handles(args))
{
    // Makes a key and exits: it must work where no cluster is configured, so no host is built.
    return ApiKeysCommand.Run(args, Console.Out, Console.Error);
}

var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    // ASPNETCORE_URLS wins; otherwise a loopback-only default rather than every interface.
    builder.WebHost.UseUrls("http://127.0.0.1:8080");
}

builder.AddOrleansTasksClient();
builder.AddJobEvents();
builder.AddApiOptions();
builder.AddApiSecurity();
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<ApiExceptionHandler>();

// Bad bodies reach ApiExceptionHandler, which can say what is wrong, instead of an empty 400.
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
builder.Services.AddOpenApi(o => o.AddApiKeySecurity());
builder.AddApiTelemetry();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseApiSecurity();
app.Use(async (context, next) =>
{
    var limit = context.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value.MaxRequestBytes;
    if (context.Request.ContentLength > limit)
    {
        throw new BadHttpRequestException($"The request body is larger than {limit} bytes (Api:MaxRequestBytes).", StatusCodes.Status413PayloadTooLarge);
    }

    if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
    {
        size.MaxRequestBodySize = limit;
    }

    await next(context);
});

app.MapOpenApi().RequireAuthorization(ApiScopes.Read);
app.MapScalarApiReference("/docs").RequireAuthorization(ApiScopes.Read);
app.MapJobsApi();
app.MapJobQueriesApi();
app.MapJobEventsApi();
app.MapSchedulesApi();
app.MapBulkApi();
app.MapExamplesApi();
app.MapHealthApi();
app.MapMetricsApi();
app.Run();
return 0;

/// <summary>The API's entry point; public so in-process tests can host it.</summary>
public partial class Program;
