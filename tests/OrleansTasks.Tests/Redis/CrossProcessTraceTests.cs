using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Api.Observability;
using OrleansTasks.Hosting;
using OrleansTasks.Observability;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Redis;

/// <summary>
/// One job's trace across processes: a caller's <c>traceparent</c> enters the API (its own process, tracing switched on
/// by <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>), and the attempt on the silo (in this process) continues that trace under the
/// API's own server span.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class CrossProcessTraceTests(RedisFixture redis)
{
    [Fact]
    public async Task TheApiProcessContinuesTheCallersTraceAndTheSilosAttemptSpanIsAChildOfAndLinkedToTheApisSpan()
    {
        // What the silo's exporter would be given: the engine's spans, as they end.
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == JobTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        // Both processes as deployed with OTLP on (README's Observability), so the silo's exporter path starts too.
        // Nothing listens on this port: the exports fail, harmlessly.
        var collector = $"http://127.0.0.1:{RedisServer.FreePort()}";
        var identity = ClusterIdentity.New();
        await using var silo = await RedisSilo.StartAsync(redis.Server, identity, overrides: new Dictionary<string, string?> { [Telemetry.OtlpEndpointKey] = collector });
        await using var api = await ApiProcess.StartAsync(redis.Server, identity, new Dictionary<string, string>
        {
            // Switches the API's tracing on (ApiTelemetry).
            // The assertions below hold without it too: ASP.NET Core starts the request's activity for its logs anyway,
            // with the caller's sampled flag, and JobClient stores any recorded activity (ApiTelemetry says as much).
            [Telemetry.OtlpEndpointKey] = collector,
        });

        var traceId = ActivityTraceId.CreateRandom();
        var callerSpanId = ActivitySpanId.CreateRandom();
        var id = $"xproc-trace-{Guid.NewGuid():N}";
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/jobs", UriKind.Relative)))
        {
            request.Content = ApiFixture.Json($$"""{"type":"test_echo","id":"{{id}}","payload":{"value":"traced"} }""");
            request.Headers.Add("traceparent", $"00-{traceId}-{callerSpanId}-01");
            using var submitted = await api.Http.SendAsync(request);
            Assert.True(submitted.StatusCode == HttpStatusCode.Accepted, $"POST /jobs answered {(int)submitted.StatusCode}:\n{api.Tail()}");
        }

        var attempt = await Poll.UntilAsync(
            () => Task.FromResult(spans.FirstOrDefault(s => s.DisplayName == "process test_echo" && Equals(s.GetTagItem("messaging.message.id"), id))),
            s => s is not null, TimeSpan.FromSeconds(30), "the attempt's span on the silo");

        Assert.Equal(ActivityKind.Consumer, attempt!.Kind);
        Assert.True(attempt.HasRemoteParent);
        Assert.Equal(traceId, attempt.TraceId);

        // The parent is not the caller's span but one the API process made for the request and stored with the job.
        Assert.NotEqual(callerSpanId, attempt.ParentSpanId);
        Assert.NotEqual(default(ActivitySpanId), attempt.ParentSpanId);
        var link = Assert.Single(attempt.Links);
        Assert.Equal(traceId, link.Context.TraceId);
        Assert.Equal(attempt.ParentSpanId, link.Context.SpanId);

        // The failing exports left the API serving.
        using var job = await api.Http.GetAsync(new Uri($"/jobs/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, job.StatusCode);
        Assert.Equal("succeeded", (await job.Content.ReadFromJsonAsync<JsonObject>())!["status"]!.GetValue<string>());
        Assert.False(api.HasExited, $"the API process exited:\n{api.Tail()}");
    }
}
