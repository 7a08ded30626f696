namespace OrleansTasks.Jobs;

/// <summary>
/// The shape every completion-webhook URL must have, checked alike by the API and the silos. Which hosts and
/// addresses may be called is the silos' decision (<c>Webhooks:AllowedHosts</c>), made at enqueue and again on the
/// resolved address when the delivery connects.
/// </summary>
public static class CallbackUrl
{
    /// <summary>Longest accepted URL.</summary>
    public const int MaxLength = 2048;

    /// <summary>Null when <paramref name="url"/> is an absolute http or https URL with a host, else why not.</summary>
    public static string? Validate(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return "must not be empty.";
        }

        if (url.Length > MaxLength)
        {
            return $"must be at most {MaxLength} characters.";
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.IsFile || uri.IsUnc)
        {
            return "must be an absolute http or https URL.";
        }

        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            return $"must use http or https, not '{uri.Scheme}'.";
        }

        if (string.IsNullOrEmpty(uri.Host))
        {
            return "must name a host.";
        }

        // Credentials in the URL would be stored with the job and shown by every query of it.
        return uri.UserInfo.Length > 0 ? "must not contain user information (user:password@)." : null;
    }
}
