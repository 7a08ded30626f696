namespace OrleansTasks.Hosting;

/// <summary>Telemetry names the API and the silos share.</summary>
public static class Telemetry
{
    /// <summary>The standard OpenTelemetry variable: set, both processes export over OTLP (the exporter reads it and its siblings itself).</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meter Orleans reports on (client connections and gateways in the API; grains, messaging, storage in a silo).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";
}
