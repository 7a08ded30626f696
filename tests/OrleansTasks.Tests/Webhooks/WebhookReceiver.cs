using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Webhooks;

/// <summary>One POST the receiver got, with the raw body bytes as they arrived.</summary>
public sealed record ReceivedWebhook(string Path, byte[] Body, string? Signature, string? Delivery, string? Timestamp, string? ContentType, TimeSpan At);

/// <summary>
/// A webhook receiver on a free loopback port (HttpListener). Answers 200, or 500 for the first
/// <see cref="FailFirst"/> requests to a path; records every request.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly ConcurrentDictionary<string, int> _seen = new(StringComparer.Ordinal);
    private readonly Task _loop;

    private WebhookReceiver(int port)
    {
        Port = port;
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");

        // Requests addressed by name carry "Host: localhost", which the first prefix does not match (404).
        _listener.Prefixes.Add($"http://localhost:{port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    /// <summary>Path → how many requests to answer 500 before answering 200.</summary>
    public ConcurrentDictionary<string, int> FailFirst { get; } = new(StringComparer.Ordinal);

    /// <summary>Path → the status every request to it is answered with (instead of 200).</summary>
    public ConcurrentDictionary<string, int> Answer { get; } = new(StringComparer.Ordinal);

    /// <summary>Time since the receiver started: arrival times of requests compare on one monotonic clock.</summary>
    public TimeSpan Now => _clock.Elapsed;

    public static WebhookReceiver Start() => new(RedisServer.FreePort());

    /// <summary>The URL of <paramref name="path"/> on this receiver, addressed by IP.</summary>
    public Uri Url(string path) => new($"http://127.0.0.1:{Port}/{path}");

    /// <summary>Every request to <paramref name="path"/>, in arrival order.</summary>
    public IReadOnlyList<ReceivedWebhook> To(string path) => [.. _received.Where(r => r.Path == path)];

    /// <summary>Every request received.</summary>
    public IReadOnlyList<ReceivedWebhook> All => [.. _received];

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var path = context.Request.Url!.AbsolutePath.TrimStart('/');
            _received.Enqueue(new ReceivedWebhook(path, body.ToArray(), context.Request.Headers["X-OrleansTasks-Signature"],
                context.Request.Headers["X-OrleansTasks-Delivery"], context.Request.Headers["X-OrleansTasks-Timestamp"],
                context.Request.ContentType, _clock.Elapsed));
            var count = _seen.AddOrUpdate(path, 1, (_, n) => n + 1);
            context.Response.StatusCode = count <= FailFirst.GetValueOrDefault(path) ? 500 : Answer.GetValueOrDefault(path, 200);
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
