using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>POST /jobs/bulk and GET /jobs/bulk/{id} over HTTP against a real Redis; each test scopes its filter by an id prefix of its own.</summary>
[Collection(ApiCollection.Name)]
public sealed class BulkApiTests(ApiFixture api)
{
    private static readonly TimeSpan BulkTimeout = TimeSpan.FromSeconds(90);

    private HttpClient Http => api.Http;

    private static string NewRun(string what) => $"{what}-{Guid.NewGuid():N}"[..20];

    private async Task<(HttpStatusCode Status, JsonObject? Body, string? Location, string? MediaType)> PostBulkAsync(string body)
    {
        using var response = await Http.PostAsync(new Uri("/jobs/bulk", UriKind.Relative), ApiFixture.Json(body));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text)!.AsObject(), response.Headers.Location?.OriginalString,
            response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<(HttpStatusCode Status, JsonObject Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonObject>())!);
    }

    private async Task EnqueueAsync(string id, string body)
    {
        using var response = await Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json(body.Replace("$ID", id, StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    /// <summary>Enqueues <paramref name="count"/> jobs named <c>{run}-{i}</c> from several concurrent HTTP callers.</summary>
    private async Task<List<string>> EnqueueManyAsync(string run, int count, string body)
    {
        var ids = Enumerable.Range(0, count).Select(i => $"{run}-{i:D5}").ToList();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await EnqueueAsync(ids[i], body);
            }
        }));
        return ids;
    }

    private Task<JsonObject> WaitForCompletedAsync(string location) =>
        Poll.UntilAsync(async () => (await GetAsync(location)).Body, o => o["status"]!.GetValue<string>() == "completed", BulkTimeout, $"bulk operation {location}");

    /// <summary>Every job listed for <paramref name="query"/>, following nextCursor.</summary>
    private async Task<List<JsonObject>> ListAllAsync(string query)
    {
        var items = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var (status, body) = await GetAsync($"/jobs?{query}&limit=500" + (cursor is null ? string.Empty : $"&cursor={Uri.EscapeDataString(cursor)}"));
            Assert.Equal(HttpStatusCode.OK, status);
            items.AddRange(body["items"]!.AsArray().Select(i => i!.AsObject()));
            cursor = body["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return items;
    }

    [Fact]
    public async Task StartAnswers202WithLocationAndTheOperationThenGetShowsItCompletedWithDoneAndFailedCounted()
    {
        var run = NewRun("bulk-shape");
        var waiting = await EnqueueManyAsync(run + "-w", 5, """{"id":"$ID","type":"test_echo","payload":{"value":"later"},"delay":"PT1H"}""");
        var finished = $"{run}-finished";
        await EnqueueAsync(finished, """{"id":"$ID","type":"test_echo","payload":{"value":"now"}}""");
        await api.WaitForTerminalAsync(finished);

        // No status filter: the succeeded job matches too, and cancelling it is refused (counted failed).
        var (status, body, location, _) = await PostBulkAsync($$$"""{"action":"cancel","filter":{"idPrefix":"{{{run}}}"}}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        var id = body!["id"]!.GetValue<string>();
        Assert.Equal($"/jobs/bulk/{id}", location);
        Assert.Equal("cancel", body["action"]!.GetValue<string>());
        Assert.Equal(run, body["filter"]!["idPrefix"]!.GetValue<string>());
        Assert.Empty(body["filter"]!["status"]!.AsArray());
        Assert.Contains(body["status"]!.GetValue<string>(), new[] { "running", "completed" });
        Assert.Equal(6, body["matched"]!.GetValue<long>());
        Assert.NotNull(body["done"]);
        Assert.NotNull(body["failed"]);
        Assert.NotNull(body["createdAt"]);

        var done = await WaitForCompletedAsync(location!);
        Assert.Equal(id, done["id"]!.GetValue<string>());
        Assert.Equal("cancel", done["action"]!.GetValue<string>());
        Assert.Equal(6, done["matched"]!.GetValue<long>());
        Assert.Equal(5, done["done"]!.GetValue<long>());
        Assert.Equal(1, done["failed"]!.GetValue<long>());
        Assert.NotNull(done["finishedAt"]);
        foreach (var job in waiting)
        {
            Assert.Equal("cancelled", (await api.GetJobAsync(job))["status"]!.GetValue<string>());
        }

        Assert.Equal("succeeded", (await api.GetJobAsync(finished))["status"]!.GetValue<string>());

        // The operation's record expires a week after its last write rather than staying in Redis for ever.
        var keys = new List<string>();
        await foreach (var key in api.Redis.Connection.GetServers().Single().KeysAsync(pattern: $"{api.Identity.ServiceId}/*{id}*"))
        {
            keys.Add(key.ToString());
        }

        var ttl = await api.Redis.Connection.GetDatabase().KeyTimeToLiveAsync(Assert.Single(keys));
        Assert.InRange(ttl!.Value, TimeSpan.FromDays(6), TimeSpan.FromDays(7));
    }

    [Fact]
    public async Task DryRunAnswers200WithTheMatchCountAndChangesNothing()
    {
        var run = NewRun("bulk-dry");
        var ids = await EnqueueManyAsync(run, 7, """{"id":"$ID","type":"test_echo","payload":{"value":"later"},"delay":"PT1H"}""");

        var (status, body, location, _) = await PostBulkAsync($$$"""{"action":"delete","filter":{"status":["scheduled"],"idPrefix":"{{{run}}}"},"dryRun":true}""");
        Assert.Null(location);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(7, body!["matched"]!.GetValue<long>());
        Assert.Null(body["id"]);

        (status, body, _, _) = await PostBulkAsync($$$"""{"action":"cancel","filter":{"status":["failed"],"idPrefix":"{{{run}}}"},"dryRun":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body!["matched"]!.GetValue<long>());

        Assert.All(await ListAllAsync($"idPrefix={run}"), j => Assert.Equal("scheduled", j["status"]!.GetValue<string>()));
        Assert.Equal(ids.Count, (await ListAllAsync($"idPrefix={run}")).Count);
    }

    [Theory]
    [InlineData("""{"action":"explode","filter":{}}""", "action")]
    [InlineData("""{"filter":{}}""", "action")]
    [InlineData("""{"action":"cancel"}""", "filter")]
    [InlineData("""{"action":"cancel","filter":{"status":["sleeping"]}}""", "filter.status")]
    [InlineData("""{"action":"cancel","filter":{"status":"failed"}}""", "filter.status")]
    [InlineData("""{"action":"requeue","filter":{"createdAfter":"yesterday"}}""", "filter.createdAfter")]
    [InlineData("""{"action":"requeue","filter":{"createdAfter":"2026-11-02T00:00:00Z","createdBefore":"2026-11-01T00:00:00Z"}}""", "filter.createdBefore")]
    [InlineData("""{"action":"delete","filter":{"idPrefix":"no spaces"}}""", "filter.idPrefix")]
    [InlineData("""{"action":"delete","filter":{"type":""}}""", "filter.type")]
    public async Task ABadActionOrFilterIs400NamingTheField(string body, string field)
    {
        var (status, problem, _, mediaType) = await PostBulkAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", mediaType);
        Assert.True(problem!["errors"]?[field] is not null, $"expected an error for '{field}' in {problem}");
    }

    [Fact]
    public async Task AnUnknownOperationIs404Problem()
    {
        using var response = await Http.GetAsync(new Uri($"/jobs/bulk/nobody-{Guid.NewGuid():N}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task BulkCancelOfThousandsOfScheduledJobsCancelsEveryOneAndLeavesOthersAlone()
    {
        var run = NewRun("bulk-cancel");
        const int count = 3000;
        await EnqueueManyAsync(run, count, """{"id":"$ID","type":"test_echo","payload":{"value":"later"},"delay":"PT1H"}""");

        // Outside the prefix: must not be touched.
        var other = NewRun("bulk-other");
        await EnqueueAsync(other, """{"id":"$ID","type":"test_echo","payload":{"value":"later"},"delay":"PT1H"}""");

        var (status, body, location, _) = await PostBulkAsync($$$"""{"action":"cancel","filter":{"status":["scheduled"],"idPrefix":"{{{run}}}"}}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(count, body!["matched"]!.GetValue<long>());

        var done = await WaitForCompletedAsync(location!);
        Assert.Equal(count, done["matched"]!.GetValue<long>());
        Assert.Equal(count, done["done"]!.GetValue<long>());
        Assert.Equal(0, done["failed"]!.GetValue<long>());

        Assert.Empty(await ListAllAsync($"idPrefix={run}&status=scheduled"));
        var cancelled = await ListAllAsync($"idPrefix={run}&status=cancelled");
        Assert.Equal(count, cancelled.Select(j => j["id"]!.GetValue<string>()).Distinct().Count());
        Assert.Equal("scheduled", (await api.GetJobAsync(other))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task BulkRequeueRunsEveryFailedJobAgainAsANewRound()
    {
        var run = NewRun("bulk-requeue");
        var ids = await EnqueueManyAsync(run, 20, """{"id":"$ID","type":"test_permanent","payload":{"reason":"broken on purpose"}}""");
        foreach (var id in ids)
        {
            Assert.Equal("failed", (await api.WaitForTerminalAsync(id))["status"]!.GetValue<string>());
        }

        var (status, _, location, _) = await PostBulkAsync($$$"""{"action":"requeue","filter":{"status":["failed"],"idPrefix":"{{{run}}}"}}""");
        Assert.Equal(HttpStatusCode.Accepted, status);

        var done = await WaitForCompletedAsync(location!);
        Assert.Equal(20, done["matched"]!.GetValue<long>());
        Assert.Equal(20, done["done"]!.GetValue<long>());
        Assert.Equal(0, done["failed"]!.GetValue<long>());
        foreach (var id in ids)
        {
            var again = await Poll.UntilAsync(() => api.GetJobAsync(id),
                j => j["round"]!.GetValue<int>() == 2 && j["status"]!.GetValue<string>() == "failed", what: $"job {id} to fail again in round 2");
            Assert.Equal([1, 2], again["history"]!.AsArray().Select(a => a!["round"]!.GetValue<int>()));
        }
    }

    [Fact]
    public async Task BulkDeleteRemovesFinishedJobsAndTheirIdsCanBeEnqueuedAgain()
    {
        var run = NewRun("bulk-delete");
        var ids = await EnqueueManyAsync(run, 30, """{"id":"$ID","type":"test_echo","payload":{"value":"one"}}""");
        foreach (var id in ids)
        {
            await api.WaitForTerminalAsync(id);
        }

        var (status, _, location, _) = await PostBulkAsync($$$"""{"action":"delete","filter":{"status":["succeeded"],"idPrefix":"{{{run}}}"}}""");
        Assert.Equal(HttpStatusCode.Accepted, status);

        var done = await WaitForCompletedAsync(location!);
        Assert.Equal(30, done["done"]!.GetValue<long>());
        Assert.Equal(0, done["failed"]!.GetValue<long>());
        Assert.Empty(await ListAllAsync($"idPrefix={run}"));
        using (var gone = await Http.GetAsync(new Uri($"/jobs/{ids[0]}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        // The ids are free: a different payload under one is a new job (202), not a conflict.
        await EnqueueAsync(ids[0], """{"id":"$ID","type":"test_echo","payload":{"value":"two"}}""");
        Assert.Equal("two", (await api.WaitForTerminalAsync(ids[0]))["result"]!.GetValue<string>());
    }
}
