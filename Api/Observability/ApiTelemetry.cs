using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Hosting;

namespace OrleansTasks.Api.Observability;

/// <summary>
/// The API's metrics and traces. Metrics (ASP.NET Core's, the Orleans client's meter <c>Microsoft.Orleans</c>, the .NET
/// runtime's) are always served as Prometheus text at <c>GET /metrics</c> (scope <c>read</c>). Traces, and an OTLP
/// copy of the metrics, are sent only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
public static class ApiTelemetry
{
    /// <summary>Where Prometheus scrapes the API.</summary>
    public const string ScrapePath = "/metrics";

    public const string ServiceName = "orleanstasks-api";

    public static WebApplicationBuilder AddApiTelemetry(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithMetrics(metrics => metrics
                .AddMeter(Telemetry.OrleansMeter)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(builder.Configuration[Telemetry.OtlpEndpointKey]))
        {
            // Without an exporter, recording the spans would be work for nobody: the HTTP request still starts an
            // activity (ASP.NET Core does so for its logs), and an upstream-sampled traceparent still reaches the job.
            otel.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments(ScrapePath, StringComparison.Ordinal)));
            otel.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text format), under the <c>read</c> scope like every other GET.</summary>
    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint(ScrapePath)
            .RequireAuthorization(ApiScopes.Read)
            .WithTags("Observability")
            .WithSummary("Metrics in the Prometheus text format");
        return app;
    }
}
