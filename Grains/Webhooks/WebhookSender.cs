using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;

namespace OrleansTasks.Webhooks;

/// <summary>
/// The silo's one HTTP client for deliveries. Every connection it opens goes through
/// <see cref="WebhookAddressPolicy.ConnectAsync"/>; no proxy (the guard would check the proxy, not the receiver),
/// no redirects (a receiver could bounce the POST to an internal address), no cookies.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _http;
    private readonly IOptions<WebhookOptions> _options;
    private readonly WebhookAddressPolicy _policy;
    private readonly TimeProvider _time;

    public WebhookSender(IOptions<WebhookOptions> options, [FromKeyedServices(JobClock.Key)] TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = time;
        _policy = new WebhookAddressPolicy(options.Value);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectCallback = _policy.ConnectAsync,

            // Re-resolve and re-check now and then, rather than trusting a pooled connection's address for ever.
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("OrleansTasks-Webhooks", "1"));
    }

    /// <summary>POSTs <paramref name="body"/>, signed, to <paramref name="url"/>; returns the receiver's status.</summary>
    /// <exception cref="WebhookRefusedException">The destination is refused (or no secret is set): retrying cannot help.</exception>
    /// <exception cref="TimeoutException">The receiver did not answer within <c>Webhooks:Timeout</c>.</exception>
    /// <exception cref="HttpRequestException">The connection failed.</exception>
    public async Task<HttpStatusCode> SendAsync(string url, string body, string deliveryId, CancellationToken cancellationToken)
    {
        var options = _options.Value;
        if (string.IsNullOrEmpty(options.Secret))
        {
            throw new WebhookRefusedException("Webhooks:Secret is not set on this silo, so the delivery cannot be signed.");
        }

        // Addresses, literal or resolved, are checked where the connection is made, on what is actually connected to.
        if (_policy.CheckDestination(url) is { } problem)
        {
            throw new WebhookRefusedException($"The callback URL {problem}");
        }

        var bytes = Encoding.UTF8.GetBytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(WebhookSigner.SignatureHeader, WebhookSigner.Sign(options.Secret, bytes));
        request.Headers.Add(WebhookSigner.DeliveryHeader, deliveryId);
        request.Headers.Add(WebhookSigner.TimestampHeader, _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            return response.StatusCode;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The receiver did not answer within {options.Timeout.TotalSeconds:0.###} s (Webhooks:Timeout).", ex);
        }
        catch (HttpRequestException ex) when (RefusalIn(ex) is { } refused)
        {
            // The handler wraps what the connect step threw; surface the guard's own sentence.
            throw new WebhookRefusedException(refused.Message, ex);
        }
    }

    private static WebhookRefusedException? RefusalIn(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is WebhookRefusedException refused)
            {
                return refused;
            }
        }

        return null;
    }

    public void Dispose() => _http.Dispose();
}
