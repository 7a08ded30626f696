using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using OrleansTasks.Jobs;

namespace OrleansTasks.Examples;

/// <summary>The seed's <c>send_welcome_email</c>: 3 retries, 1 s minimum backoff.</summary>
[JobType(Name)]
public sealed record SendWelcomeEmail([property: Required, EmailAddress] string Email)
{
    public const string Name = "send_welcome_email";
}

/// <summary>The seed's <c>generate_report</c>: any JSON object as data.</summary>
[JobType(Name)]
public sealed record GenerateReport([property: Required, MinLength(1)] string ReportId, JsonObject Data)
{
    public const string Name = "generate_report";
}

/// <summary>The seed's <c>process_image</c>.</summary>
[JobType(Name)]
public sealed record ProcessImage([property: Required, HttpUrl] string ImageUrl, long UserId)
{
    public const string Name = "process_image";
}

/// <summary>What <c>process_image</c> returns.</summary>
public sealed record ProcessImageResult(string Status, long UserId, string ImageUrl);

/// <summary>Accepts only absolute http:// and https:// URLs: a job that fetches a URL must not be pointed at file:// or ftp://.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class HttpUrlAttribute : ValidationAttribute
{
    public HttpUrlAttribute() : base("must be an absolute http or https URL.")
    {
    }

    public override bool IsValid(object? value) =>
        value is null || (value is string text && IsHttpUrl(text));

    /// <summary>True for an absolute http:// or https:// URL with a host.</summary>
    public static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && !string.IsNullOrEmpty(uri.Host);
}
