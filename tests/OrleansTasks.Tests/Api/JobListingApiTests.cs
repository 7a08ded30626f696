using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>GET /jobs (filters, shapes, cursor paging) and GET /jobs/counts, over HTTP against a real Redis.</summary>
[Collection(ApiCollection.Name)]
public sealed class JobListingApiTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    private async Task<(HttpStatusCode Status, JsonObject Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonObject>())!);
    }

    private async Task<string> EnqueueAsync(string id, string body)
    {
        using var response = await Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json(body.Replace("$ID", id, StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return id;
    }

    /// <summary>Every page of a listing, following nextCursor until it is null.</summary>
    private async Task<List<JsonObject>> WalkAsync(string query, int limit)
    {
        var items = new List<JsonObject>();
        string? cursor = null;
        for (var pages = 0; pages < 10_000; pages++)
        {
            var (status, body) = await GetAsync($"/jobs?{query}&limit={limit}" + (cursor is null ? string.Empty : $"&cursor={Uri.EscapeDataString(cursor)}"));
            Assert.Equal(HttpStatusCode.OK, status);
            var page = body["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
            Assert.True(page.Count <= limit, $"a page of {page.Count} items with limit {limit}");
            items.AddRange(page);
            cursor = body["nextCursor"]?.GetValue<string>();
            if (cursor is null)
            {
                return items;
            }
        }

        throw new InvalidOperationException("The listing never ended.");
    }

    [Fact]
    public async Task FiltersCombineAndItemsComeNewestFirstWithTheSummaryShape()
    {
        var run = $"lst-{Guid.NewGuid():N}"[..16];
        var echoes = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            echoes.Add(await EnqueueAsync($"{run}-echo-{i}", """{"id":"$ID","type":"test_echo","payload":{"value":"x"}}"""));
        }

        var failed = await EnqueueAsync($"{run}-failed", """{"id":"$ID","type":"test_permanent","payload":{"reason":"broken on purpose"}}""");
        var scheduled = await EnqueueAsync($"{run}-later", """{"id":"$ID","type":"test_echo","payload":{"value":"y"},"delay":"PT1H"}""");
        foreach (var id in echoes.Append(failed))
        {
            await api.WaitForTerminalAsync(id);
        }

        var all = await WalkAsync($"idPrefix={run}", 50);
        Assert.Equal(7, all.Count);
        var created = all.Select(i => i["createdAt"]!.GetValue<DateTime>()).ToList();
        Assert.Equal(created.OrderByDescending(t => t), created);
        Assert.Equal(scheduled, all[0]["id"]!.GetValue<string>());

        var failure = Assert.Single(await WalkAsync($"idPrefix={run}&status=failed", 50));
        Assert.Equal(failed, failure["id"]!.GetValue<string>());
        Assert.Equal("test_permanent", failure["type"]!.GetValue<string>());
        Assert.Equal(1, failure["attempts"]!.GetValue<int>());
        Assert.NotNull(failure["startedAt"]);
        Assert.NotNull(failure["finishedAt"]);
        Assert.Contains("broken on purpose", failure["lastError"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(failure["lastError"]!["type"]!.GetValue<string>()));
        Assert.Null(failure["payload"]);
        Assert.Null(failure["history"]);

        var waiting = Assert.Single(await WalkAsync($"idPrefix={run}&status=scheduled&status=queued", 50));
        Assert.Equal(scheduled, waiting["id"]!.GetValue<string>());
        Assert.NotNull(waiting["nextAttemptAt"]);

        Assert.Equal(6, (await WalkAsync($"idPrefix={run}&status=succeeded&status=failed", 50)).Count);
        Assert.Equal(5, (await WalkAsync($"idPrefix={run}&type=test_echo&status=succeeded", 50)).Count);
        Assert.Empty(await WalkAsync($"idPrefix={run}&type=test_permanent&status=succeeded", 50));
        Assert.Equal(6, (await WalkAsync($"idPrefix={run}&type=test_echo", 2)).Count);

        // Creation-time bounds are exclusive at both ends.
        var newest = all[0]["createdAt"]!.GetValue<DateTime>();
        var oldest = all[^1]["createdAt"]!.GetValue<DateTime>();
        var before = await WalkAsync($"idPrefix={run}&createdBefore={newest:O}", 50);
        Assert.DoesNotContain(before, i => i["id"]!.GetValue<string>() == scheduled);
        var after = await WalkAsync($"idPrefix={run}&createdAfter={oldest.AddMilliseconds(-1):O}&createdBefore={newest.AddMilliseconds(1):O}", 50);
        Assert.Equal(7, after.Count);
    }

    [Fact]
    public async Task WalkingAllPagesWhileJobsAreAddedSkipsNoneAndRepeatsNone()
    {
        var run = $"pg-{Guid.NewGuid():N}"[..14];
        var existing = new List<string>();
        for (var i = 0; i < 60; i++)
        {
            existing.Add(await EnqueueAsync($"{run}-{i:D3}", """{"id":"$ID","type":"test_echo","payload":{"value":"p"},"delay":"PT1H"}"""));
        }

        // Jobs keep arriving while the walk goes on.
        using var stop = new CancellationTokenSource();
        var adder = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested && i < 200; i++)
            {
                await EnqueueAsync($"{run}-new-{i:D3}", """{"id":"$ID","type":"test_echo","payload":{"value":"n"},"delay":"PT1H"}""");
            }
        });

        var walked = await WalkAsync($"idPrefix={run}&status=scheduled", 7);
        await stop.CancelAsync();
        await adder;

        var ids = walked.Select(i => i["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(existing, id => Assert.Contains(id, ids));
    }

    [Fact]
    public async Task CountsHaveEveryStatusAndMatchAWalkOfTheListingPerStatus()
    {
        var (status, counts) = await GetAsync("/jobs/counts?type=test_echo");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["scheduled", "queued", "running", "retrying", "succeeded", "failed", "cancelled"], counts.Select(p => p.Key).ToArray());

        // Other tests' jobs may still move: the counts and the walks must agree once a moment holds still.
        await Poll.UntilAsync(async () =>
        {
            var (_, before) = await GetAsync("/jobs/counts?type=test_echo");
            var walked = new Dictionary<string, long>();
            foreach (var name in before.Select(p => p.Key))
            {
                walked[name] = (await WalkAsync($"type=test_echo&status={name}", 500)).Count;
            }

            var (_, after) = await GetAsync("/jobs/counts?type=test_echo");
            return (Before: before, Walked: walked, After: after);
        }, r => r.Before.ToJsonString() == r.After.ToJsonString() && r.Walked.All(w => r.Before[w.Key]!.GetValue<long>() == w.Value),
            timeout: TimeSpan.FromSeconds(60), what: "counts to equal the listing walked per status");
    }

    [Theory]
    [InlineData("/jobs?limit=501", "limit")]
    [InlineData("/jobs?limit=0", "limit")]
    [InlineData("/jobs?limit=ten", "limit")]
    [InlineData("/jobs?status=done", "status")]
    [InlineData("/jobs?createdAfter=yesterday", "createdAfter")]
    [InlineData("/jobs?createdAfter=2026-02-01T00:00:00Z&createdBefore=2026-01-01T00:00:00Z", "createdBefore")]
    [InlineData("/jobs?idPrefix=has%20space", "idPrefix")]
    [InlineData("/jobs?cursor=not-a-cursor", "cursor")]
    public async Task BadParametersAnswer400NamingTheParameter(string path, string parameter)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.NotNull(body["errors"]![parameter]);
    }

    [Fact]
    public async Task TheLiteralRoutesWinOverAJobIdInAnyCase()
    {
        var (status, body) = await GetAsync("/jobs/COUNTS");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotNull(body["succeeded"]);
    }
}
