using System.Diagnostics;
using System.Net;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrleansTasks.Observability;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>The API's Prometheus endpoint, and one job's trace from its HTTP enqueue to its attempts on the silo.</summary>
[Collection(ApiCollection.Name)]
public sealed class ObservabilityApiTests(ApiFixture api)
{
    [Fact]
    public async Task MetricsAreServedAsPrometheusTextToAReaderWithAspNetCoreRuntimeAndOrleansFamilies()
    {
        // A request first, so the HTTP server histogram has a sample (the scrape's own request is recorded after it).
        (await api.Http.GetAsync(new Uri("/job-types", UriKind.Relative))).EnsureSuccessStatusCode();

        using var response = await api.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        var metrics = PrometheusText.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal("histogram", metrics.Families["http_server_request_duration_seconds"]);
        Assert.Contains(metrics.Find("http_server_request_duration_seconds_count", ("http_route", "/job-types")), s => s.Value >= 1);
        Assert.Contains(metrics.Families.Keys, name => name.StartsWith("dotnet_", StringComparison.Ordinal));
        Assert.Contains(metrics.Families.Keys, name => name.StartsWith("orleans_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MetricsNeedTheReadScope()
    {
        // In-process requests are not loopback, so without a key they are refused like any other GET.
        using var anonymous = api.Factory.CreateClient();
        using var response = await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task OneTraceHoldsTheHttpEnqueueAndEveryAttemptAsLinkedConsumerSpans()
    {
        // What an OTLP exporter would be given: ASP.NET Core's server spans and the engine's attempt spans.
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource("Microsoft.AspNetCore", JobTracing.SourceName)
            .AddInMemoryExporter(spans)
            .Build();

        var id = $"traced-{Guid.NewGuid():N}";
        using var submitted = await api.Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json($$"""{"type":"test_flaky","id":"{{id}}","payload":{"failTimes":1} }"""));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        Assert.Equal("succeeded", (await api.WaitForTerminalAsync(id))["status"]!.GetValue<string>());

        Activity[] Snapshot()
        {
            lock (spans)
            {
                return [.. spans];
            }
        }

        // Both attempts (the failure and the retry) end their spans when their outcomes are stored.
        var attempts = await Poll.UntilAsync(
            () => Task.FromResult(Snapshot().Where(s => s.DisplayName == "process test_flaky" && Equals(s.GetTagItem("messaging.message.id"), id)).ToArray()),
            a => a.Length == 2, TimeSpan.FromSeconds(10), "two attempt spans");
        var request = Snapshot().Single(s => s.Kind == ActivityKind.Server && s.TraceId == attempts[0].TraceId);

        Assert.All(attempts, attempt =>
        {
            Assert.Equal(ActivityKind.Consumer, attempt.Kind);
            Assert.Equal(request.TraceId, attempt.TraceId);
            Assert.Equal(request.SpanId, attempt.ParentSpanId);
            Assert.Contains(attempt.Links, l => l.Context.TraceId == request.TraceId && l.Context.SpanId == request.SpanId);
            Assert.Equal("test_flaky", attempt.GetTagItem("messaging.destination.name"));
        });
        var failed = Assert.Single(attempts, a => a.Status == ActivityStatusCode.Error);
        Assert.Equal("InvalidDataException", failed.GetTagItem("error.type"));
        Assert.Equal(1, failed.GetTagItem("orleanstasks.job.attempt"));
        Assert.Equal(2, Assert.Single(attempts, a => a.Status != ActivityStatusCode.Error).GetTagItem("orleanstasks.job.attempt"));

        // The link survives in storage, which is how an attempt on another silo (after a crash or a far-off retry) finds it.
        Assert.Contains($"\"TraceParent\":\"00-{request.TraceId}-{request.SpanId}-01\"", await StoredStateAsync(id), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUntracedEnqueueStoresNoTraceParent()
    {
        // Nobody listens to ASP.NET Core's spans here: the request's activity is not sampled, so the job stores nothing.
        var id = $"untraced-{Guid.NewGuid():N}";
        using var submitted = await api.Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json($$"""{"type":"test_echo","id":"{{id}}","payload":{"value":"x"} }"""));
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        await api.WaitForTerminalAsync(id);
        var stored = await StoredStateAsync(id);
        Assert.Contains("test_echo", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("TraceParent", stored, StringComparison.Ordinal);
    }

    private async Task<string> StoredStateAsync(string id)
    {
        var key = (await api.StateKeysAsync()).Single(k => k.EndsWith($"/{id}", StringComparison.Ordinal));
        return (await api.Redis.Connection.GetDatabase().HashGetAsync(key, "data")).ToString();
    }
}
