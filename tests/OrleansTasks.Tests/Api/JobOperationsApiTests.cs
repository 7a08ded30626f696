using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>The codes and bodies of POST /jobs/{id}/cancel, POST /jobs/{id}/requeue and DELETE /jobs/{id}.</summary>
[Collection(ApiCollection.Name)]
public sealed class JobOperationsApiTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    private async Task<(HttpStatusCode Status, JsonObject? Body, string? MediaType)> SendAsync(HttpMethod method, string path)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text)!.AsObject(), response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<string> EnqueueAsync(string body)
    {
        using var response = await Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json(body));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task CancelAnswers200ForAWaitingJob202ForARunningOne409ForAFinishedOneAnd404ForNone()
    {
        var scheduled = await EnqueueAsync("""{"type":"test_echo","payload":{"value":"later"},"delay":"PT1H"}""");
        var (status, body, _) = await SendAsync(HttpMethod.Post, $"/jobs/{scheduled}/cancel");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("cancelled", body!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, $"/jobs/{scheduled}/cancel")).Status);

        var running = await EnqueueAsync("""{"type":"test_until_cancelled","payload":{"name":"http"}}""");
        await Poll.UntilAsync(() => api.GetJobAsync(running), j => j["status"]!.GetValue<string>() == "running", what: "the job to run");
        (status, body, _) = await SendAsync(HttpMethod.Post, $"/jobs/{running}/cancel");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("running", body!["status"]!.GetValue<string>());
        Assert.NotNull(body["cancelRequestedAt"]);
        var done = await api.WaitForTerminalAsync(running);
        Assert.Equal("cancelled", done["status"]!.GetValue<string>());
        Assert.Equal("cancelled", done["history"]![0]!["outcome"]!.GetValue<string>());

        var finished = await EnqueueAsync("""{"type":"test_echo","payload":{"value":"done"}}""");
        await api.WaitForTerminalAsync(finished);
        var (conflict, problem, mediaType) = await SendAsync(HttpMethod.Post, $"/jobs/{finished}/cancel");
        Assert.Equal(HttpStatusCode.Conflict, conflict);
        Assert.Equal("application/problem+json", mediaType);
        Assert.Contains("succeeded", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, $"/jobs/nobody-{Guid.NewGuid():N}/cancel")).Status);
    }

    [Fact]
    public async Task RequeueAnswers202ForAFinishedJob409ForAWaitingOneAnd404ForNone()
    {
        var failing = await EnqueueAsync("""{"type":"test_permanent","payload":{"reason":"no"}}""");
        await api.WaitForTerminalAsync(failing);
        var (status, body, _) = await SendAsync(HttpMethod.Post, $"/jobs/{failing}/requeue");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(2, body!["round"]!.GetValue<int>());
        Assert.Equal(0, body["attempts"]!.GetValue<int>());
        var again = await api.WaitForTerminalAsync(failing);
        Assert.Equal([1, 2], again["history"]!.AsArray().Select(a => a!["round"]!.GetValue<int>()));

        var waiting = await EnqueueAsync("""{"type":"test_echo","payload":{"value":"later"},"delay":"PT1H"}""");
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(HttpMethod.Post, $"/jobs/{waiting}/requeue")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, $"/jobs/nobody-{Guid.NewGuid():N}/requeue")).Status);
    }

    [Fact]
    public async Task DeleteAnswers204AndFreesTheIdAndItsRedisKey409ForAWaitingJobAnd404ForNone()
    {
        var id = $"delete-{Guid.NewGuid():N}";
        await EnqueueAsync($$$"""{"type":"test_echo","id":"{{{id}}}","payload":{"value":"one"}}""");
        await api.WaitForTerminalAsync(id);
        Assert.Contains(await api.StateKeysAsync(), k => k.Contains(id, StringComparison.Ordinal));

        var (status, body, _) = await SendAsync(HttpMethod.Delete, $"/jobs/{id}");
        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Null(body);
        Assert.DoesNotContain(await api.StateKeysAsync(), k => k.Contains(id, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/jobs/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, $"/jobs/{id}")).Status);

        // The id is free: a different payload under it is a new job, not a conflict.
        await EnqueueAsync($$$"""{"type":"test_echo","id":"{{{id}}}","payload":{"value":"two"}}""");
        Assert.Equal("two", (await api.WaitForTerminalAsync(id))["result"]!.GetValue<string>());

        var waiting = await EnqueueAsync("""{"type":"test_echo","payload":{"value":"later"},"delay":"PT1H"}""");
        var (conflict, problem, _) = await SendAsync(HttpMethod.Delete, $"/jobs/{waiting}");
        Assert.Equal(HttpStatusCode.Conflict, conflict);
        Assert.Contains("cancel it first", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("counts")]
    [InlineData("Counts")]
    [InlineData("BULK")]
    [InlineData(".")]
    [InlineData("..")]
    public async Task IdsThatWouldReadAsOtherRoutesAreRefusedNamingTheId(string id)
    {
        using var response = await Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json($$$"""{"type":"test_echo","id":"{{{id}}}","payload":{"value":"x"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.NotNull(problem["errors"]!["id"]);
    }
}
