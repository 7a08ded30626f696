using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class JobsApiTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    [Fact]
    public async Task AJobReadOverHttpSaysWhyItWaitsAndAFinishedOneCarriesANullWaitingFor()
    {
        using var response = await Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json("""{"type":"test_echo","payload":{"value":"later"},"delay":"01:00:00"}"""));
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();

        var read = (await Http.GetFromJsonAsync<JsonObject>(new Uri($"/jobs/{id}", UriKind.Relative)))!;
        var waiting = read["waitingFor"]!.AsObject();
        Assert.Equal("runAt", waiting["reason"]!.GetValue<string>());
        Assert.Equal(read["scheduledFor"]!.GetValue<string>(), waiting["until"]!.GetValue<string>());
        Assert.EndsWith(".", waiting["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(waiting.ContainsKey("slotsUsed"));

        using var cancel = await Http.PostAsync(new Uri($"/jobs/{id}/cancel", UriKind.Relative), null);
        var cancelled = (await Http.GetFromJsonAsync<JsonObject>(new Uri($"/jobs/{id}", UriKind.Relative)))!;
        Assert.Equal("cancelled", cancelled["status"]!.GetValue<string>());
        Assert.True(cancelled.ContainsKey("waitingFor"));
        Assert.Null(cancelled["waitingFor"]);
    }

    [Fact]
    public async Task PostingAJobAnswers202WithLocationAndSnapshotThenItSucceeds()
    {
        using var response = await Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json("""{"type":"test_echo","payload":{"value":"over http"},"maxRetries":2,"timeout":"PT30S","minBackoff":"00:00:02"}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        var id = body["id"]!.GetValue<string>();
        Assert.Equal($"/jobs/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal("test_echo", body["type"]!.GetValue<string>());
        Assert.Contains(body["status"]!.GetValue<string>(), new[] { "queued", "running", "succeeded" });
        Assert.Equal("over http", body["payload"]!["value"]!.GetValue<string>());
        Assert.Equal(2, body["maxRetries"]!.GetValue<int>());
        Assert.Equal("00:00:30", body["timeout"]!.GetValue<string>());
        Assert.Equal("00:00:02", body["minBackoff"]!.GetValue<string>());
        Assert.EndsWith("Z", body["createdAt"]!.GetValue<string>(), StringComparison.Ordinal);

        var done = await api.WaitForTerminalAsync(id);
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        Assert.Equal("over http", done["result"]!.GetValue<string>());
        Assert.Equal(1, done["attempts"]!.GetValue<int>());
        var attempt = done["history"]!.AsArray().Single()!;
        Assert.Equal("succeeded", attempt["outcome"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(attempt["silo"]!.GetValue<string>()));
    }

    [Fact]
    public async Task DelayedJobIsScheduledWithItsStartTime()
    {
        using var response = await Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json("""{"type":"test_echo","payload":{"value":"later"},"delay":"PT1S"}"""));
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("scheduled", body["status"]!.GetValue<string>());
        var done = await api.WaitForTerminalAsync(body["id"]!.GetValue<string>());
        Assert.True(DateTime.Parse(done["history"]![0]!["startedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
            >= DateTime.Parse(body["scheduledFor"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task SameIdAndPayloadAgainAnswers200WithTheSameJobAndADifferentOne409()
    {
        var id = $"http-{Guid.NewGuid():N}";
        using var first = await Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json($$$"""{"type":"test_echo","id":"{{{id}}}","payload":{"value":"a"}}"""));
        using var again = await Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json($$$"""{"id":"{{{id}}}","type":"test_echo","payload":{ "value" : "a" }}"""));
        using var conflict = await Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json($$$"""{"type":"test_echo","id":"{{{id}}}","payload":{"value":"b"}}"""));

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal("application/problem+json", conflict.Content.Headers.ContentType!.MediaType);
        var firstBody = (await first.Content.ReadFromJsonAsync<JsonObject>())!;
        var againBody = (await again.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(firstBody["createdAt"]!.GetValue<string>(), againBody["createdAt"]!.GetValue<string>());
        var problem = (await conflict.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains(id, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        await api.WaitForTerminalAsync(id);
        Assert.Equal(1, TestJobLog.ExecutionsOf(id));
    }

    [Fact]
    public async Task UnknownIdIs404ProblemAndWritesNothing()
    {
        var before = await api.StateKeysAsync();
        using var response = await Http.GetAsync(new Uri($"/jobs/unknown-{Guid.NewGuid():N}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(before, await api.StateKeysAsync());
    }

    [Fact]
    public async Task JobTypesListsTheExamplesWithTheirDefaults()
    {
        var types = (await Http.GetFromJsonAsync<JsonArray>(new Uri("/job-types", UriKind.Relative)))!;
        var email = types.Single(t => t!["name"]!.GetValue<string>() == "send_welcome_email")!;
        Assert.Equal(3, email["maxRetries"]!.GetValue<int>());
        Assert.Equal("00:00:01", email["minBackoff"]!.GetValue<string>());
        Assert.Contains(types, t => t!["name"]!.GetValue<string>() == "generate_report");
        Assert.Contains(types, t => t!["name"]!.GetValue<string>() == "process_image");
    }

    [Fact]
    public async Task HealthEndpointsAnswer()
    {
        Assert.Equal("live", (await Http.GetFromJsonAsync<JsonObject>(new Uri("/health/live", UriKind.Relative)))!["status"]!.GetValue<string>());
        Assert.Equal("ready", (await Http.GetFromJsonAsync<JsonObject>(new Uri("/health/ready", UriKind.Relative)))!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenApiDocumentListsEveryEndpointWithItsResponses()
    {
        var document = (await Http.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative)))!;
        var paths = document["paths"]!.AsObject();
        string[] Codes(string path, string verb) => [.. paths[path]![verb]!["responses"]!.AsObject().Select(r => r.Key)];

        Assert.Equal(["200", "202", "400", "409", "413", "503"], Codes("/jobs", "post").Order());
        Assert.Equal(["200", "404", "503"], Codes("/jobs/{id}", "get").Order());
        Assert.Contains("200", Codes("/job-types", "get"));
        foreach (var seed in new[] { "/signup", "/create_report", "/process_image" })
        {
            Assert.Equal(["202", "400", "503"], Codes(seed, "post").Order());
        }

        Assert.Contains("200", Codes("/health/live", "get"));
        Assert.Equal(["200", "503"], Codes("/health/ready", "get").Order());
        Assert.NotNull(document["components"]!["schemas"]!["JobResponse"]);
    }

    [Fact]
    public async Task InteractiveReferenceIsServedAtDocs()
    {
        using var client = ApiFixture.WithTestKey(api.Factory.CreateClient());
        using var response = await client.GetAsync(new Uri("/docs", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("openapi/v1.json", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
