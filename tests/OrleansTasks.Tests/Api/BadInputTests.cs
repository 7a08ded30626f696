using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class BadInputTests(ApiFixture api)
{
    public static TheoryData<string, string, string, int, string?> Table => new()
    {
        // route, content type, body, expected status, field named in "errors" (null: no field map expected)
        { "/jobs", "application/json", "{bad", 400, "body" },
        { "/jobs", "application/json", "", 400, null },
        { "/jobs", "application/json", "[1,2]", 400, null },
        { "/jobs", "text/plain", """{"type":"test_echo"}""", 415, null },
        { "/jobs", "application/json", """{"type": 5}""", 400, "type" },
        { "/jobs", "application/json", """{"payload":{"value":"x"}}""", 400, "type" },
        { "/jobs", "application/json", """{"type":"no_such_type","payload":{}}""", 400, "type" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":1}}""", 400, "payload.value" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{}}""", 400, "payload.value" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":"text"}""", 400, "payload" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x","extra":1}}""", 400, "payload.extra" },
        { "/jobs", "application/json", """{"type":"send_welcome_email","payload":{"email":"not-an-email"}}""", 400, "payload.email" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"retries":3}""", 400, "retries" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"id":"has space"}""", 400, "id" },
        { "/jobs", "application/json", $$"""{"type":"test_echo","payload":{"value":"x"},"id":"{{new string('a', 129)}}"}""", 400, "id" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"maxRetries":-1}""", 400, "maxRetries" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"maxRetries":1000000}""", 400, "maxRetries" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"maxRetries":99999999999}""", 400, "maxRetries" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"maxRetries":"three"}""", 400, "maxRetries" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"minBackoff":"-PT1S"}""", 400, "minBackoff" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"minBackoff":"soon"}""", 400, "minBackoff" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"timeout":"P1000D"}""", 400, "timeout" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"timeout":30}""", 400, "timeout" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"minBackoff":"PT1H","maxBackoff":"PT1M"}""", 400, "maxBackoff" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"delay":"-PT5S"}""", 400, "delay" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"runAt":"2001-01-01T00:00:00Z"}""", 400, "runAt" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"startBy":"2001-01-01T00:00:00Z"}""", 400, "startBy" },
        { "/jobs", "application/json", $$"""{"type":"test_echo","payload":{"value":"x"},"startBy":"{{DateTime.UtcNow.AddDays(10):o}}","runAt":"{{DateTime.UtcNow.AddDays(30):o}}"}""", 400, "startBy" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"delay":"PT1H","startBy":"2026-01-01T00:00:00Z"}""", 400, "startBy" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"maxAge":"PT0S"}""", 400, "maxAge" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"maxAge":"-PT5M"}""", 400, "maxAge" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"delay":"PT1H","maxAge":"PT5M"}""", 400, "maxAge" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"maxAge":"PT5M","startBy":"2999-01-01T00:00:00Z"}""", 400, "startBy" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"runAt":"yesterday"}""", 400, "runAt" },
        { "/jobs", "application/json", """{"type":"test_echo","payload":{"value":"x"},"delay":"PT1S","runAt":"2100-01-01T00:00:00Z"}""", 400, "delay" },
        { "/jobs", "application/json", $$$"""{"type":"test_echo","payload":{"value":"{{{new string('x', 300 * 1024)}}}"}}""", 413, null },
        { "/signup", "application/json", """{}""", 400, "email" },
        { "/signup", "application/json", """{"email":"nope"}""", 400, "email" },
        { "/signup", "application/json", """{"email":42}""", 400, "email" },
        { "/create_report", "application/json", """{"data":{"month":"jan"}}""", 400, "id" },
        { "/create_report", "application/json", """{"id":"r1"}""", 400, "data" },
        { "/create_report", "application/json", """{"id":"r1","data":[1]}""", 400, "data" },
        { "/process_image", "application/json", """{"image_url":"ftp://example.com/a.jpg","user_id":1}""", 400, "image_url" },
        { "/process_image", "application/json", """{"image_url":"https://example.com/a.jpg"}""", 400, "user_id" },
        { "/process_image", "application/json", """{"imageUrl":"https://example.com/a.jpg","user_id":1}""", 400, "imageUrl" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public async Task BadInputGetsAProblemAndPersistsNothing(string route, string contentType, string body, int status, string? field)
    {
        var before = await api.StateKeysAsync();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, contentType);
        using var response = await api.Http.PostAsync(new Uri(route, UriKind.Relative), content);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrWhiteSpace(problem["title"]?.GetValue<string>()));
        if (field is not null)
        {
            Assert.True(problem["errors"]?.AsObject().ContainsKey(field) == true, $"errors should name '{field}': {problem.ToJsonString()}");
        }

        Assert.Equal(before, await api.StateKeysAsync());
    }

    [Fact]
    public async Task UnknownTypeProblemListsTheKnownTypes()
    {
        using var response = await api.Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json("""{"type":"send_welcome_mail"}"""));
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        var message = problem["errors"]!["type"]![0]!.GetValue<string>();
        Assert.Contains("send_welcome_email", message, StringComparison.Ordinal);
        Assert.Contains("process_image", message, StringComparison.Ordinal);
    }
}
