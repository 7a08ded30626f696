using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;

namespace OrleansTasks.Webhooks;

/// <summary>Completion webhooks, bound from the <c>Webhooks</c> configuration section and validated at start.</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>
    /// The HMAC-SHA256 key (its UTF-8 bytes) every delivery is signed with. While it is unset, enqueues naming a
    /// <c>callbackUrl</c> are refused (400) and a job type with a default callback URL fails start-up. Default: none.
    /// </summary>
    public string? Secret { get; set; }

    /// <summary>
    /// Host names or IP literals: a list (<c>Webhooks:AllowedHosts:0</c>, ..., an appsettings.json array) or one value
    /// separated by commas, semicolons or spaces. When set, callbacks may go only to these hosts (at any address they
    /// resolve to). When unset, any host may be called whose resolved addresses are public: loopback, private,
    /// link-local and metadata addresses are refused. Default: unset.
    /// </summary>
    public IList<string> AllowedHosts { get; } = [];

    /// <summary>How long one delivery attempt waits for the receiver's answer. Default: 10 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of a delivery after its first attempt. Default: 12 (about five hours with the default backoff).</summary>
    public int MaxRetries { get; set; } = 12;

    /// <summary>Backoff before a delivery's first retry; it doubles for each later one. Default: 15 seconds.</summary>
    public TimeSpan MinBackoff { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Cap of a delivery's doubling backoff. Default: 1 hour.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The hosts of <see cref="AllowedHosts"/>, normalised; empty when unset.</summary>
    public IReadOnlySet<string> AllowedHostSet => AllowedHosts
        .SelectMany(hosts => hosts.Split([',', ';', ' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        .Select(WebhookAddressPolicy.NormalizeHost)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Problems, each naming its key; empty when the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (Timeout < TimeSpan.FromMilliseconds(100) || Timeout > TimeSpan.FromMinutes(5))
        {
            yield return "Webhooks:Timeout must be between 100 ms and 5 minutes.";
        }

        if (new JobPolicy(MaxRetries, MinBackoff, MaxBackoff, Timeout).Validate() is { Count: > 0 } errors)
        {
            foreach (var (field, messages) in errors)
            {
                yield return $"Webhooks:{char.ToUpperInvariant(field[0])}{field[1..]} {string.Join(" ", messages)}";
            }
        }
    }
}

/// <summary>
/// Fails start-up on bad <c>Webhooks</c> settings and on job types whose default callback URL could never be
/// delivered (no secret, or a host the settings refuse), each problem naming its key or type.
/// </summary>
internal sealed class WebhookOptionsValidator(JobTypeRegistry registry) : IValidateOptions<WebhookOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhookOptions options)
    {
        var errors = options.Validate().ToList();
        var policy = new WebhookAddressPolicy(options);
        foreach (var type in registry.All.Where(t => t.DefaultCallbackUrl is not null))
        {
            if (policy.CheckAtEnqueue(type.DefaultCallbackUrl!) is { } problem)
            {
                errors.Add($"Job type '{type.Name}' has a default callback URL that {problem}");
            }
        }

        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
