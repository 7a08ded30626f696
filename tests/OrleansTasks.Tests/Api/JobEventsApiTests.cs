using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary><c>GET /jobs/{id}/events</c> over HTTP, on the API and a silo sharing a real redis-server.</summary>
[Collection(ApiCollection.Name)]
public sealed class JobEventsApiTests(ApiFixture fixture)
{
    private async Task<(string Id, string Gate)> EnqueueGatedAsync()
    {
        var gate = $"sse-{Guid.NewGuid():N}";
        using var response = await fixture.Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json($$$"""{"type":"test_progress_gate","payload":{"gate":"{{{gate}}}"}}"""));
        response.EnsureSuccessStatusCode();
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        return (id, gate);
    }

    [Fact]
    public async Task TheStreamStartsWithTheSnapshotSendsProgressAndStatusAndEndsAfterTheTerminalStatus()
    {
        var (id, gate) = await EnqueueGatedAsync();
        await Poll.UntilAsync(() => fixture.GetJobAsync(id), j => j["status"]!.GetValue<string>() == "running");

        await using var stream = await SseStream.OpenAsync(fixture.Http, $"/jobs/{id}/events");
        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        var snapshot = await stream.NextAsync();
        Assert.Equal("snapshot", snapshot!.Event);
        Assert.Equal(id, snapshot.Json["id"]!.GetValue<string>());
        Assert.Equal("running", snapshot.Json["status"]!.GetValue<string>());
        Assert.Equal(snapshot.Json["version"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture), snapshot.Id);

        TestJobLog.Open(gate);
        var events = await stream.ReadToEndAsync();

        Assert.Contains(events, e => e.Event == "progress" && e.Json["percent"]!.GetValue<double>() == 100);
        Assert.Contains(events, e => e.Event == "attempt" && e.Json["outcome"]!.GetValue<string>() == "succeeded");
        var last = events[^1];
        Assert.Equal("status", last.Event);
        Assert.Equal("succeeded", last.Json["status"]!.GetValue<string>());

        // Ids are the stored versions, rising; the last one is the job's final version.
        var ids = events.Where(e => e.Id is not null).Select(e => long.Parse(e.Id!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.Equal((await fixture.GetJobAsync(id))["version"]!.GetValue<long>(), ids[^1]);
    }

    [Fact]
    public async Task TheApiSubscribesToAJobsChannelOnlyWhileAStreamFollowsIt()
    {
        var (id, gate) = await EnqueueGatedAsync();
        await Poll.UntilAsync(() => fixture.GetJobAsync(id), j => j["status"]!.GetValue<string>() == "running");
        var channel = OrleansTasks.Jobs.JobChange.Channel(fixture.Identity.ServiceId, id);
        async Task<long> SubscribersAsync() =>
            (long)((StackExchange.Redis.RedisResult[])(await fixture.Redis.Database.ExecuteAsync("PUBSUB", "NUMSUB", channel))!)[1];

        // Writes nobody follows reach no API process: the job has run and reported progress without a subscriber.
        Assert.Equal(0, await SubscribersAsync());
        await using (var first = await SseStream.OpenAsync(fixture.Http, $"/jobs/{id}/events"))
        await using (var second = await SseStream.OpenAsync(fixture.Http, $"/jobs/{id}/events"))
        {
            Assert.Equal("snapshot", (await first.NextAsync())!.Event);
            Assert.Equal("snapshot", (await second.NextAsync())!.Event);

            // Two streams of one job in one process share one subscription.
            Assert.Equal(1, await SubscribersAsync());
        }

        // Both clients went away: the process lets go of the channel.
        await Poll.UntilAsync(SubscribersAsync, n => n == 0);
        TestJobLog.Open(gate);
        await fixture.WaitForTerminalAsync(id);
    }

    [Fact]
    public async Task AStreamResumedWithLastEventIdFirstSendsTheSnapshotWhenTheJobMovedOn()
    {
        var (id, gate) = await EnqueueGatedAsync();
        await Poll.UntilAsync(() => fixture.GetJobAsync(id), j => j["status"]!.GetValue<string>() == "running");
        string seen;
        await using (var first = await SseStream.OpenAsync(fixture.Http, $"/jobs/{id}/events"))
        {
            seen = (await first.NextAsync())!.Id!;
        }

        // The job finishes while the client is away.
        TestJobLog.Open(gate);
        var final = await fixture.WaitForTerminalAsync(id);

        await using var resumed = await SseStream.OpenAsync(fixture.Http, $"/jobs/{id}/events", lastEventId: seen);
        var events = await resumed.ReadToEndAsync();
        var snapshot = Assert.Single(events);
        Assert.Equal("snapshot", snapshot.Event);
        Assert.Equal("succeeded", snapshot.Json["status"]!.GetValue<string>());
        Assert.Equal(100, snapshot.Json["progress"]!["percent"]!.GetValue<double>());

        // Resumed at the final version: nothing new, and the stream of a finished job ends at once.
        await using var upToDate = await SseStream.OpenAsync(fixture.Http, $"/jobs/{id}/events", lastEventId: final["version"]!.ToString());
        Assert.Empty(await upToDate.ReadToEndAsync());
    }

    [Fact]
    public async Task AnUnknownJobIsA404ProblemAndAStreamOfAWaitingJobStaysOpen()
    {
        using var missing = await fixture.Http.GetAsync(new Uri($"/jobs/no-such-{Guid.NewGuid():N}/events", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);

        using var response = await fixture.Http.PostAsync(new Uri("/jobs", UriKind.Relative),
            ApiFixture.Json("""{"type":"test_echo","payload":{"value":"later"},"delay":"P1D"}"""));
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        await using var stream = await SseStream.OpenAsync(fixture.Http, $"/jobs/{id}/events");
        Assert.Equal("scheduled", (await stream.NextAsync())!.Json["status"]!.GetValue<string>());

        // A cancel is a status change the open stream sees, and then it ends.
        using var cancel = await fixture.Http.PostAsync(new Uri($"/jobs/{id}/cancel", UriKind.Relative), null);
        cancel.EnsureSuccessStatusCode();
        var events = await stream.ReadToEndAsync();
        Assert.Equal("cancelled", events[^1].Json["status"]!.GetValue<string>());
    }
}
