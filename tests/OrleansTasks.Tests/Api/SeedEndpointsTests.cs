using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class SeedEndpointsTests(ApiFixture api)
{
    private async Task<string> PostAsync(string route, string body, string expectedMessage)
    {
        using var response = await api.Http.PostAsync(new Uri(route, UriKind.Relative), ApiFixture.Json(body));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        var id = accepted["jobId"]!.GetValue<string>();
        Assert.Equal(expectedMessage, accepted["message"]!.GetValue<string>());
        Assert.Equal($"/jobs/{id}", response.Headers.Location!.OriginalString);
        return id;
    }

    [Fact]
    public async Task SignupSendsTheWelcomeEmail()
    {
        var id = await PostAsync("/signup", """{"email":"test@example.com"}""", "Signup successful. Welcome email will be sent shortly.");
        var done = await api.WaitForTerminalAsync(id);
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        Assert.Equal("send_welcome_email", done["type"]!.GetValue<string>());
        Assert.True(done["result"]!.GetValue<bool>());
    }

    [Fact]
    public async Task CreateReportGeneratesTheReport()
    {
        var id = await PostAsync("/create_report", """{"id":"monthly-sales","data":{"month":"jan","year":2023}}""", "Report generation started.");
        var done = await api.WaitForTerminalAsync(id);
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        Assert.Equal("Report monthly-sales generated successfully.", done["result"]!.GetValue<string>());
        Assert.Equal(2023, done["payload"]!["data"]!["year"]!.GetValue<int>());
    }

    [Fact]
    public async Task ProcessImageProcessesTheImage()
    {
        var id = await PostAsync("/process_image", """{"image_url":"https://example.com/image.jpg","user_id":123}""", "Image processing started.");
        var done = await api.WaitForTerminalAsync(id);
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        Assert.Equal("processed", done["result"]!["status"]!.GetValue<string>());
        Assert.Equal(123, done["result"]!["userId"]!.GetValue<int>());
        Assert.Equal("https://example.com/image.jpg", done["result"]!["imageUrl"]!.GetValue<string>());
    }

    [Fact]
    public async Task SignupOfTheFailingAddressEndsFailedAfterFourAttemptsWithBackoff()
    {
        var id = await PostAsync("/signup", """{"email":"error@example.com"}""", "Signup successful. Welcome email will be sent shortly.");
        var done = await api.WaitForTerminalAsync(id, TimeSpan.FromSeconds(60));

        Assert.Equal("failed", done["status"]!.GetValue<string>());
        Assert.Equal(4, done["attempts"]!.GetValue<int>());
        Assert.Equal("HttpRequestException", done["lastError"]!["type"]!.GetValue<string>());
        var history = done["history"]!.AsArray();
        Assert.Equal(4, history.Count);
        for (var retry = 1; retry < history.Count; retry++)
        {
            var previousEnd = DateTime.Parse(history[retry - 1]!["finishedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            var start = DateTime.Parse(history[retry]!["startedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            var b = Backoff.Base(retry, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));

            // Never early (a few ms of clock slew aside); late by seconds at most, as timers on a busy CI machine
            // can be. The lower bounds (1, 2, 4 s) are what show the backoff doubling.
            Assert.InRange(start - previousEnd, b - TimeSpan.FromMilliseconds(5), (b * 1.5) + TimeSpan.FromSeconds(2));
        }
    }
}
