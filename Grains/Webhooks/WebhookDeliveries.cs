using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;

namespace OrleansTasks.Webhooks;

/// <summary>
/// The job grain's side of completion webhooks: checks callback URLs at enqueue, and turns a finished round into
/// its delivery job. A delivery is an ordinary job of type <see cref="WebhookDelivery.TypeName"/>, so it is stored,
/// retried with backoff, recovered after a crash and visible through the API like any other; its id is derived from
/// the finished job and round, so enqueueing it again (after a crash, on every wake-up tick of the finished job
/// until its wake-up is cleared) finds the same delivery instead of making a second one.
/// </summary>
public sealed partial class WebhookDeliveries(IOptions<WebhookOptions> options, ILogger<WebhookDeliveries> logger)
{
    // Set around the engine's own enqueue of a delivery; a delivery enqueued without it is refused. Only Orleans
    // clients could forge it, and they are trusted with every grain anyway; HTTP callers never reach RequestContext.
    private const string EngineEnqueueKey = "orleanstasks.webhook-delivery";

    // A delivery attempt's job timeout: the HTTP timeout plus room to resolve, connect and record the outcome.
    private static readonly TimeSpan AttemptMargin = TimeSpan.FromSeconds(5);

    private readonly WebhookAddressPolicy _policy = new(options.Value);

    /// <summary>The delivery job id of <paramref name="sourceId"/>'s round <paramref name="round"/>: <c>{sourceId}.webhook.{round}</c>, shortened with a hash when too long.</summary>
    public static string DeliveryId(string sourceId, int round)
    {
        ArgumentNullException.ThrowIfNull(sourceId);
        var suffix = FormattableString.Invariant($".webhook.{round}");
        if (sourceId.Length + suffix.Length <= JobId.MaxLength)
        {
            return sourceId + suffix;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sourceId)))[..16];
        return $"{sourceId[..(JobId.MaxLength - suffix.Length - hash.Length - 1)]}.{hash}{suffix}";
    }

    /// <summary>
    /// The POSTed JSON: <c>{ id, type, status, result, lastError, attempts, finishedAt, round, deliveryId }</c>, with the
    /// handler's result as JSON (not a string). Built from stored state only, so it is the same bytes every time.
    /// </summary>
    public static string Body(string sourceId, JobState state, string deliveryId)
    {
        ArgumentNullException.ThrowIfNull(state);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", sourceId);
            json.WriteString("type", state.Type);
            json.WriteString("status", state.Status.ToWireName());
            json.WritePropertyName("result");
            if (state.ResultJson is { } result)
            {
                json.WriteRawValue(result);
            }
            else
            {
                json.WriteNullValue();
            }

            json.WritePropertyName("lastError");
            if (state.LastError is { } error)
            {
                json.WriteStartObject();
                json.WriteString("type", error.Type);
                json.WriteString("message", error.Message);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNullValue();
            }

            json.WriteNumber("attempts", state.Attempts);
            if (state.FinishedAt is { } finishedAt)
            {
                json.WriteString("finishedAt", finishedAt.UtcDateTime);
            }
            else
            {
                json.WriteNull("finishedAt");
            }

            json.WriteNumber("round", state.Round);
            json.WriteString("deliveryId", deliveryId);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Adds the webhook rules to an enqueue's check: the callback URL must pass the SSRF guard and needs a secret;
    /// a delivery job is the engine's to enqueue and has no callback of its own.
    /// </summary>
    public JobRequestCheck Check(JobRequestCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var errors = new Dictionary<string, string[]>(check.Errors, StringComparer.Ordinal);
        if (check.Type == WebhookDelivery.TypeName)
        {
            if (RequestContext.Get(EngineEnqueueKey) is not true)
            {
                errors["type"] = [$"'{WebhookDelivery.TypeName}' is the engine's own type for webhook deliveries; it cannot be enqueued directly."];
            }

            if (check.CallbackUrl is not null)
            {
                errors["callbackUrl"] = ["a webhook delivery has no callback of its own."];
            }
        }
        else if (check.CallbackUrl is { } url && _policy.CheckAtEnqueue(url) is { } problem)
        {
            errors["callbackUrl"] = [problem];
        }

        return errors.Count == check.Errors.Count ? check : check with { Errors = errors };
    }

    /// <summary>
    /// Enqueues the delivery of <paramref name="state"/>'s finished round. True when the delivery exists now (or can
    /// never exist: refused or taken by an unrelated job, which is logged); false when it may not, because the call
    /// failed: the caller then keeps the job's wake-up, whose next tick tries again.
    /// </summary>
    public async Task<bool> TryEnqueueAsync(IGrainFactory grains, string sourceId, JobState state)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(state);
        if (state.CallbackUrl is not { } url)
        {
            return true;
        }

        var deliveryId = DeliveryId(sourceId, state.Round);
        var o = options.Value;
        var request = new EnqueueRequest(
            WebhookDelivery.TypeName,
            JobJson.Serialize(new WebhookDelivery(sourceId, state.Round, url, Body(sourceId, state, deliveryId))),
            new JobOptions { MaxRetries = o.MaxRetries, MinBackoff = o.MinBackoff, MaxBackoff = o.MaxBackoff, Timeout = o.Timeout + AttemptMargin });
        RequestContext.Set(EngineEnqueueKey, true);
        try
        {
            var result = await grains.GetGrain<IJobGrain>(deliveryId).EnqueueAsync(request);
            switch (result.Outcome)
            {
                case EnqueueOutcome.Created:
                    LogDeliveryEnqueued(sourceId, state.Round, deliveryId);
                    break;
                case EnqueueOutcome.Conflict or EnqueueOutcome.Invalid:
                    // Retrying cannot change the answer: say so loudly and let the job finish.
                    LogDeliveryRefused(sourceId, state.Round, deliveryId, result.Detail ?? string.Empty,
                        string.Join("; ", (result.Errors ?? new Dictionary<string, string[]>()).Select(e => $"{e.Key} {string.Join(" ", e.Value)}")));
                    break;
            }

            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogDeliveryNotEnqueued(ex, sourceId, state.Round, deliveryId);
            return false;
        }
        finally
        {
            RequestContext.Remove(EngineEnqueueKey);
        }
    }

    [LoggerMessage(1201, LogLevel.Information, "Job {JobId} round {Round} finished: webhook delivery {DeliveryId} enqueued")]
    private partial void LogDeliveryEnqueued(string jobId, int round, string deliveryId);

    [LoggerMessage(1202, LogLevel.Error, "Job {JobId} round {Round}: webhook delivery {DeliveryId} was refused and will not be sent: {Detail} {Errors}")]
    private partial void LogDeliveryRefused(string jobId, int round, string deliveryId, string detail, string errors);

    [LoggerMessage(1203, LogLevel.Warning, "Job {JobId} round {Round}: webhook delivery {DeliveryId} could not be enqueued; the job's wake-up is kept and tries again")]
    private partial void LogDeliveryNotEnqueued(Exception exception, string jobId, int round, string deliveryId);

    [LoggerMessage(1204, LogLevel.Warning, "Job {JobId}: could not bring its wake-up forward for the missing webhook delivery; its current wake-up retries it when it ticks")]
    internal partial void LogWakeUpNotMoved(Exception exception, string jobId);
}
