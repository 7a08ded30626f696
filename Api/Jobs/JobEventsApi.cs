using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansTasks.Api.Infrastructure;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Api.Jobs;

/// <summary>The data of a <c>status</c> event: the job's status and what goes with it.</summary>
public sealed record JobStatusEvent(string Status, int Attempts, int Round, DateTime? NextAttemptAt, JobErrorResponse? LastError);

/// <summary>
/// <c>GET /jobs/{id}/events</c>: a job's life as server-sent events. It begins with the job (<c>snapshot</c>), then
/// sends <c>progress</c>, <c>attempt</c> and <c>status</c> events as they are stored, and ends after a terminal
/// status. Event ids are the job's version: a client that reconnects with <c>Last-Event-ID</c> gets a fresh
/// <c>snapshot</c> first when the job moved on meanwhile, so it never misses a status.
/// </summary>
public static class JobEventsApi
{
    public static WebApplicationBuilder AddJobEvents(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<JobEventHub>();
        if (string.IsNullOrWhiteSpace(Hosting.ClusterSettings.Bind(builder.Configuration).Redis))
        {
            AddSource<ObserverJobEventSource>(builder.Services);
        }
        else
        {
            AddSource<RedisJobEventSource>(builder.Services);
        }

        return builder;
    }

    private static void AddSource<TSource>(IServiceCollection services)
        where TSource : class, IHostedService, IJobChangeFeed
    {
        services.AddSingleton<TSource>();
        services.AddSingleton<IJobChangeFeed>(sp => sp.GetRequiredService<TSource>());
        services.AddHostedService(sp => sp.GetRequiredService<TSource>());
    }

    public static IEndpointRouteBuilder MapJobEventsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/jobs/{id}/events", StreamAsync)
            .WithTags("Jobs")
            .WithName("StreamJobEvents")
            .WithSummary("Follow a job live (server-sent events)")
            .WithDescription("text/event-stream: a snapshot event (the job), then progress, attempt and status events as they are stored; ends after a terminal status. Event ids are the job's version; reconnect with Last-Event-ID to resume. A comment every 15 s keeps idle streams open.")
            .RequireAuthorization(ApiScopes.Read)
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> StreamAsync(
        string id, HttpContext http, JobClient jobs, JobEventHub hub, IJobChangeFeed feed, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(hub);
        ArgumentNullException.ThrowIfNull(feed);
        ArgumentNullException.ThrowIfNull(json);

        // Subscribed (and the job's channel with it) before the job is read: a change stored in between is queued, not lost.
        using var subscription = hub.Subscribe(id);
        IAsyncDisposable watch;
        try
        {
            watch = await feed.WatchAsync(id, http.RequestAborted);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return TypedResults.Problem($"Live events cannot be followed right now: {ex.Message}", statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Live events unavailable");
        }

        await using var watching = watch;
        var snapshot = await jobs.GetAsync(id);
        if (snapshot is null)
        {
            return TypedResults.Problem($"No job has the id '{id}'.", statusCode: StatusCodes.Status404NotFound, title: "Job not found");
        }

        var stream = new EventWriter(http, json.Value.SerializerOptions);
        var cancel = http.RequestAborted;
        try
        {
            var seen = JobChange.Of(snapshot);
            if (LastEventId(http.Request) != snapshot.Version)
            {
                await stream.SnapshotAsync(snapshot, cancel);
            }
            else
            {
                await stream.StartAsync(cancel);
            }

            while (!seen.Status.IsTerminal())
            {
                if (!await subscription.Changes.WaitToReadAsync(cancel))
                {
                    break;
                }

                if (subscription.TakeTick())
                {
                    // So proxies and clients see an idle stream alive (JobEventHub.KeepAlive).
                    await stream.CommentAsync("keep-alive", cancel);
                }

                if (subscription.TakeLost())
                {
                    // Changes may have been dropped: start again from the job as stored.
                    while (subscription.Changes.TryRead(out _))
                    {
                    }

                    if (await jobs.GetAsync(id) is not { } fresh)
                    {
                        break;
                    }

                    if (fresh.Version != seen.Version)
                    {
                        await stream.SnapshotAsync(fresh, cancel);
                    }

                    seen = JobChange.Of(fresh);
                    continue;
                }

                while (!seen.Status.IsTerminal() && subscription.Changes.TryRead(out var change))
                {
                    if (change is not null && change.Version > seen.Version)
                    {
                        await stream.ChangeAsync(seen, change, cancel);
                        seen = change;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The client went away.
        }

        return TypedResults.Empty;
    }

    private static long? LastEventId(HttpRequest request) =>
        long.TryParse(request.Headers["Last-Event-ID"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : null;

    /// <summary>Writes the text/event-stream framing: <c>event:</c>, <c>id:</c> (on the last event of a version only), <c>data:</c>.</summary>
    private sealed class EventWriter(HttpContext http, JsonSerializerOptions options)
    {
        private bool _started;

        public Task StartAsync(CancellationToken cancel) => WriteAsync(string.Empty, cancel);

        public Task SnapshotAsync(JobSnapshot snapshot, CancellationToken cancel) =>
            WriteAsync(Event("snapshot", JobResponse.From(snapshot), snapshot.Version), cancel);

        public Task CommentAsync(string text, CancellationToken cancel) => WriteAsync($": {text}\n\n", cancel);

        /// <summary>The events one stored change makes, in the order a client expects: progress, attempt, then status.</summary>
        public Task ChangeAsync(JobChange before, JobChange after, CancellationToken cancel)
        {
            var events = new List<(string Name, object Data)>();
            if (after.Progress is { } progress && progress != before.Progress)
            {
                events.Add(("progress", ProgressResponse.From(progress)!));
            }

            if (after.LastAttempt is { } attempt && attempt != before.LastAttempt)
            {
                events.Add(("attempt", AttemptResponse.From(attempt)));
            }

            if (after.Status != before.Status || after.Round != before.Round)
            {
                events.Add(("status", new JobStatusEvent(after.Status.ToWireName(), after.Attempts, after.Round,
                    after.NextAttemptAt?.UtcDateTime, JobErrorResponse.From(after.LastError))));
            }

            var text = new StringBuilder();
            for (var i = 0; i < events.Count; i++)
            {
                // Only the last event of the version carries its id: a client cut off in between resumes from the
                // version before, and so gets the rest (as a snapshot).
                text.Append(Event(events[i].Name, events[i].Data, i == events.Count - 1 ? after.Version : null));
            }

            return text.Length == 0 ? Task.CompletedTask : WriteAsync(text.ToString(), cancel);
        }

        private string Event(string name, object data, long? id)
        {
            var idLine = id is { } version ? string.Create(CultureInfo.InvariantCulture, $"id: {version}\n") : string.Empty;
            return $"event: {name}\n{idLine}data: {JsonSerializer.Serialize(data, data.GetType(), options)}\n\n";
        }

        private async Task WriteAsync(string text, CancellationToken cancel)
        {
            var response = http.Response;
            if (!_started)
            {
                _started = true;
                response.ContentType = "text/event-stream";
                response.Headers.CacheControl = "no-cache";

                // Proxies such as nginx would otherwise buffer the stream.
                response.Headers["X-Accel-Buffering"] = "no";
                http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            }

            if (text.Length > 0)
            {
                await response.WriteAsync(text, cancel);
            }

            await response.Body.FlushAsync(cancel);
        }
    }
}
