using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>The schedules' HTTP contract: codes, bodies, occurrence job ids, pause, trigger, backfill, delete, listing.</summary>
[Collection(ApiCollection.Name)]
public sealed class SchedulesApiTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    private static string NewId(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = body is null ? null : ApiFixture.Json(body) };
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text)!.AsObject());
    }

    private static DateTimeOffset Time(JsonNode? node) =>
        DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    [Fact]
    public async Task PutCreatesThenReplacesAndEveryOccurrenceIsAJobNamedAfterItsInstant()
    {
        var id = NewId("every");
        var (status, body) = await SendAsync(HttpMethod.Put, $"/schedules/{id}", """{"type":"test_echo","payload":{"value":"tick"},"every":"00:00:01","overlap":"allow"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("allow", body!["overlap"]!.GetValue<string>());
        Assert.Equal("runOnce", body["misfire"]!.GetValue<string>());
        Assert.Equal("UTC", body["timeZone"]!.GetValue<string>());
        var next = body["nextRuns"]!.AsArray().Select(Time).ToList();
        Assert.Equal(5, next.Count);
        Assert.All(next.Zip(next.Skip(1)), pair => Assert.Equal(TimeSpan.FromSeconds(1), pair.Second - pair.First));
        Assert.All(next, n => Assert.Equal(0, n.Millisecond));

        var fired = await Poll.UntilAsync(async () => (await SendAsync(HttpMethod.Get, $"/schedules/{id}")).Body!,
            s => s["recentRuns"]!.AsArray().Count(r => r!["jobId"] is not null) >= 2, timeout: TimeSpan.FromSeconds(60), what: "two occurrences to fire");
        var run = fired["recentRuns"]!.AsArray().First(r => r!["jobId"] is not null)!;
        var occurrence = Time(run["occurrence"]);
        Assert.Equal($"{id}:{occurrence.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}", run["jobId"]!.GetValue<string>());
        var job = await api.WaitForTerminalAsync(run["jobId"]!.GetValue<string>());
        Assert.Equal("succeeded", job["status"]!.GetValue<string>());
        Assert.True(Time(job["history"]![0]!["startedAt"]) >= occurrence, "an occurrence's job started before its instant");

        (status, body) = await SendAsync(HttpMethod.Put, $"/schedules/{id}", """{"type":"test_echo","payload":{"value":"tock"},"cron":"0 3 * * *","timeZone":"Europe/Paris"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("0 3 * * *", body!["cron"]!.GetValue<string>());
        Assert.All(body["nextRuns"]!.AsArray().Select(Time), n => Assert.Equal(3, TimeZoneInfo.ConvertTime(n, TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris")).Hour));
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, $"/schedules/{id}")).Status);
    }

    [Fact]
    public async Task AScheduleWithAMaxAgeGivesEachOccurrencesJobAStartDeadlineFromItsEnqueue()
    {
        var id = NewId("maxage");
        var (status, body) = await SendAsync(HttpMethod.Put, $"/schedules/{id}", """{"type":"test_echo","payload":{"value":"fresh"},"every":"00:00:01","options":{"maxAge":"00:10:00"}}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("00:10:00", body!["options"]!["maxAge"]!.GetValue<string>());

        var fired = await Poll.UntilAsync(async () => (await SendAsync(HttpMethod.Get, $"/schedules/{id}")).Body!,
            s => s["recentRuns"]!.AsArray().Any(r => r!["jobId"] is not null), timeout: TimeSpan.FromSeconds(60), what: "an occurrence to fire");
        var jobId = fired["recentRuns"]!.AsArray().First(r => r!["jobId"] is not null)!["jobId"]!.GetValue<string>();
        var job = await api.WaitForTerminalAsync(jobId);
        Assert.Equal("succeeded", job["status"]!.GetValue<string>());
        Assert.Equal("00:10:00", job["maxAge"]!.GetValue<string>());
        Assert.Equal(Time(job["createdAt"]).AddMinutes(10), Time(job["startBy"]));
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, $"/schedules/{id}")).Status);
    }

    [Theory]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"61 * * * *"}""", "cron")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * *"}""", "cron")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"}}""", "cron")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *","every":"00:01:00"}""", "cron")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"every":"00:00:00.500"}""", "every")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *","timeZone":"Mars/Olympus"}""", "timeZone")]
    [InlineData("""{"type":"no_such_type","payload":{},"cron":"* * * * *"}""", "type")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *","overlap":"sometimes"}""", "overlap")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *","misfire":"later"}""", "misfire")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *","startAt":"2030-01-02T00:00:00Z","endAt":"2030-01-01T00:00:00Z"}""", "endAt")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *","options":{"maxRetries":-1}}""", "maxRetries")]
    [InlineData("""{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *","options":{"maxAge":"PT0S"}}""", "maxAge")]
    public async Task BadSchedulesAnswer400NamingTheFieldAndStoreNothing(string body, string field)
    {
        var id = NewId("bad");
        var (status, problem) = await SendAsync(HttpMethod.Put, $"/schedules/{id}", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(problem!["errors"]![field]);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/schedules/{id}")).Status);
    }

    [Fact]
    public async Task APayloadThatDoesNotValidateIsRefusedAsAnEnqueueWouldBe()
    {
        var (status, problem) = await SendAsync(HttpMethod.Put, $"/schedules/{NewId("payload")}", """{"type":"test_echo","payload":{"value":42},"cron":"* * * * *"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(problem!["errors"]!.AsObject(), e => e.Key.StartsWith("payload", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnIdWithAColonIsRefused()
    {
        var (status, problem) = await SendAsync(HttpMethod.Put, "/schedules/a:b", """{"type":"test_echo","payload":{"value":"x"},"cron":"* * * * *"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(problem!["errors"]!["id"]);
    }

    [Fact]
    public async Task PauseWithANoteResumeTriggerAndDelete()
    {
        var id = NewId("ops");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, $"/schedules/{id}", """{"type":"test_echo","payload":{"value":"p"},"cron":"0 0 1 1 *"}""")).Status);

        var (status, body) = await SendAsync(HttpMethod.Post, $"/schedules/{id}/pause", """{"note":"maintenance window"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body!["paused"]!.GetValue<bool>());
        Assert.Equal("maintenance window", body["note"]!.GetValue<string>());
        (status, body) = await SendAsync(HttpMethod.Post, $"/schedules/{id}/resume");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(body!["paused"]!.GetValue<bool>());

        (status, body) = await SendAsync(HttpMethod.Post, $"/schedules/{id}/trigger");
        Assert.Equal(HttpStatusCode.Accepted, status);
        var jobId = body!["jobId"]!.GetValue<string>();
        Assert.Matches($"^{id}:manual:\\d{{8}}T\\d{{9}}Z$", jobId);
        Assert.Equal("succeeded", (await api.WaitForTerminalAsync(jobId))["status"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, $"/schedules/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/schedules/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, $"/schedules/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, $"/schedules/{id}/pause", "{}")).Status);

        // The jobs it made stay.
        Assert.Equal("succeeded", (await api.GetJobAsync(jobId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task BackfillMakesAJobPerOccurrenceInTheRangeAndRefusesMoreThanAThousand()
    {
        var id = NewId("backfill");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, $"/schedules/{id}", """{"type":"test_echo","payload":{"value":"b"},"cron":"*/10 * * * *","overlap":"allow"}""")).Status);

        var (status, body) = await SendAsync(HttpMethod.Post, $"/schedules/{id}/backfill", """{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:30:00Z"}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        var ids = body!["jobIds"]!.AsArray().Select(j => j!.GetValue<string>()).ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"{id}:{new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(10 * i):yyyyMMdd'T'HHmmss'Z'}"), ids);
        foreach (var jobId in ids)
        {
            Assert.Equal("succeeded", (await api.WaitForTerminalAsync(jobId))["status"]!.GetValue<string>());
        }

        // The same range again makes no second job for any occurrence.
        (status, body) = await SendAsync(HttpMethod.Post, $"/schedules/{id}/backfill", """{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:30:00Z"}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(ids, body!["jobIds"]!.AsArray().Select(j => j!.GetValue<string>()));
        Assert.Equal(10, (await api.Jobs().ListAllIdsAsync($"{id}:")).Count);

        (status, body) = await SendAsync(HttpMethod.Post, $"/schedules/{id}/backfill", """{"from":"2026-01-01T00:00:00Z","to":"2026-02-01T00:00:00Z"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]!["to"]);
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, $"/schedules/{id}")).Status);
    }

    [Fact]
    public async Task ListingPagesThroughEverySchedule()
    {
        var prefix = NewId("list")[..12];
        var mine = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            mine.Add($"{prefix}-{i}");
            Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, $"/schedules/{mine[^1]}", """{"type":"test_echo","payload":{"value":"l"},"cron":"0 0 1 1 *"}""")).Status);
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var (status, body) = await SendAsync(HttpMethod.Get, "/schedules?limit=1" + (cursor is null ? string.Empty : $"&cursor={cursor}"));
            Assert.Equal(HttpStatusCode.OK, status);
            seen.AddRange(body!["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
            cursor = body["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        Assert.All(mine, id => Assert.Contains(id, seen));
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Get, "/schedules?limit=501")).Status);
        foreach (var id in mine)
        {
            await SendAsync(HttpMethod.Delete, $"/schedules/{id}");
        }
    }
}
