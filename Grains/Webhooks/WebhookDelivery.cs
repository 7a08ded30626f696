using System.Net;
using OrleansTasks.Jobs;

namespace OrleansTasks.Webhooks;

/// <summary>
/// The payload of a delivery job: one POST of one finished round of a job. The engine enqueues it; clients cannot
/// (it would let them have any body signed with the secret).
/// </summary>
/// <param name="SourceId">The finished job.</param>
/// <param name="Round">Its round that finished (1, then +1 per requeue).</param>
/// <param name="Url">The callback URL.</param>
/// <param name="Body">The exact JSON sent and signed: built once from the stored outcome, so every retry sends the same bytes.</param>
[JobType(TypeName)]
public sealed record WebhookDelivery(string SourceId, int Round, string Url, string Body)
{
    /// <summary>The engine's own job type for deliveries.</summary>
    public const string TypeName = "orleanstasks.webhook";
}

/// <summary>What a delivery job returns once the receiver accepted the POST.</summary>
/// <param name="StatusCode">The receiver's 2xx status code.</param>
public sealed record WebhookDeliveryResult(int StatusCode);

/// <summary>The receiver answered with a status that is retried (anything but 2xx and 410).</summary>
public sealed class WebhookDeliveryException : Exception
{
    public WebhookDeliveryException()
    {
    }

    public WebhookDeliveryException(string message) : base(message)
    {
    }

    public WebhookDeliveryException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// POSTs one delivery. 2xx: delivered. 410 Gone: the receiver wants no more, the delivery fails at once. Anything
/// else (3xx, which is not followed, other 4xx, 5xx, 429, timeouts, connection errors) is retried with the job's
/// backoff. A destination the SSRF guard refuses fails at once.
/// </summary>
public sealed class WebhookDeliveryHandler(WebhookSender sender) : IJobHandler<WebhookDelivery, WebhookDeliveryResult>
{
    public async Task<WebhookDeliveryResult> HandleAsync(WebhookDelivery payload, JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(context);
        HttpStatusCode status;
        try
        {
            status = await sender.SendAsync(payload.Url, payload.Body, context.JobId, cancellationToken).ConfigureAwait(false);
        }
        catch (WebhookRefusedException ex)
        {
            throw new PermanentJobFailureException($"Delivery refused: {ex.Message}", ex);
        }

        var code = (int)status;
        return code switch
        {
            >= 200 and < 300 => new WebhookDeliveryResult(code),
            410 => throw new PermanentJobFailureException("The receiver answered 410 Gone: it accepts no more deliveries at this URL."),
            _ => throw new WebhookDeliveryException($"The receiver answered {code} ({status}); the delivery is retried with backoff."),
        };
    }
}
