using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrleansTasks.Hosting;
using OrleansTasks.Observability;

namespace OrleansTasks.Silo;

/// <summary>
/// The silo's metrics and traces: the engine's meter (<see cref="JobMetrics"/>), Orleans' own (<c>Microsoft.Orleans</c>)
/// and the .NET runtime's, as Prometheus text at <c>http://{Metrics:Host}:{Metrics:Port}/metrics</c> when
/// <c>Metrics:Port</c> is set, and over OTLP, with the attempts' spans (<see cref="JobTracing"/>), when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. With neither nothing listens, and the instruments cost nothing.
/// </summary>
/// <remarks>
/// The scrape endpoint is OpenTelemetry's HttpListener exporter: no web server in the silo for one GET. HttpListener
/// matches the request's Host header against the prefix, so with a specific <c>Metrics:Host</c> the scraper must use
/// that name; the default <c>*</c> listens on every interface and answers any host name.
/// </remarks>
public static class SiloMetrics
{
    public const string PortKey = "Metrics:Port";
    public const string HostKey = "Metrics:Host";
    public const string ServiceName = "orleanstasks-silo";

    /// <summary>Adds the exporters that the configuration asks for (none by default).</summary>
    /// <exception cref="OrleansConfigurationException"><c>Metrics:Port</c> is not a port number.</exception>
    public static ISiloBuilder AddObservability(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var port = Port(silo.Configuration);
        var otlp = !string.IsNullOrWhiteSpace(silo.Configuration[Telemetry.OtlpEndpointKey]);
        if (port is null && !otlp)
        {
            return silo;
        }

        var host = silo.Configuration[HostKey] is { Length: > 0 } configured ? configured : "*";
        var otel = silo.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(JobMetrics.MeterName, Telemetry.OrleansMeter).AddRuntimeInstrumentation();
                if (port is { } p)
                {
                    metrics.AddPrometheusHttpListener(o =>
                    {
                        o.Port = p;

                        // The exporter's Host must parse as a URI host, which rules out HttpListener's "every
                        // interface" wildcards; its prefix is set here instead, before the listener starts.
                        o.ConfigureHttpListener = (_, listener) =>
                        {
                            listener.Prefixes.Clear();
                            listener.Prefixes.Add($"http://{host}:{p}/");
                        };
                    });
                }
            });
        if (otlp)
        {
            otel.WithTracing(tracing => tracing.AddSource(JobTracing.SourceName));
            otel.UseOtlpExporter();
        }

        return silo;
    }

    private static int? Port(IConfiguration configuration) => configuration[PortKey] switch
    {
        null or "" => null,
        var text when int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535 => port,
        var text => throw new OrleansConfigurationException($"{PortKey} must be a TCP port number (1-65535), not '{text}'."),
    };
}
