using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;

namespace OrleansTasks.Webhooks;

/// <summary>Wires completion webhooks into the engine: options, the SSRF-guarded sender and the delivery job type.</summary>
public static class WebhookRegistration
{
    /// <summary>
    /// Binds <c>Webhooks</c>, registers the sender and the engine's own <see cref="WebhookDelivery.TypeName"/> job
    /// type (its retry policy comes from the options at each enqueue, so the registered defaults are a fallback).
    /// </summary>
    public static JobTypeRegistryBuilder AddWebhookDeliveries(this JobTypeRegistryBuilder jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        jobs.Services.AddOptions<WebhookOptions>().BindSection(WebhookOptions.SectionName).ValidateOnStart();
        jobs.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>());
        jobs.Services.TryAddSingleton<WebhookSender>();
        jobs.Services.TryAddSingleton<WebhookDeliveries>();
        var defaults = new WebhookOptions();
        return jobs.Add<WebhookDeliveryHandler>(o =>
        {
            o.MaxRetries = defaults.MaxRetries;
            o.MinBackoff = defaults.MinBackoff;
            o.MaxBackoff = defaults.MaxBackoff;
            o.Timeout = defaults.Timeout + TimeSpan.FromSeconds(5);
        });
    }
}
