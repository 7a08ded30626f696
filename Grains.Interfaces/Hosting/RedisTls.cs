using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace OrleansTasks.Hosting;

/// <summary>
/// The <c>Redis:TlsCaPath</c> setting: the private CA that a TLS Redis server's certificate must chain to. TLS itself is
/// switched on in the connection string (<c>ssl=true</c>); without this setting StackExchange.Redis checks the server
/// against the machine's trusted roots, which know nothing of a private CA.
/// </summary>
public static class RedisTls
{
    /// <summary>The configuration key (environment: <c>Redis__TlsCaPath</c>).</summary>
    public const string CaPathKey = "Redis:TlsCaPath";

    /// <summary>The start-up error when <see cref="CaPathKey"/> is set on a connection string without <c>ssl=true</c>.</summary>
    public const string NotTlsProblem =
        $"{CaPathKey} is set but {ClusterSettings.RedisKey} does not turn TLS on: add ssl=true (and sslHost=<name on the server's certificate> when it differs from the host).";

    /// <summary>
    /// The check for StackExchange.Redis' <c>ConfigurationOptions.CertificateValidation</c>: the server's certificate
    /// must chain to the CA in <paramref name="caPath"/> (PEM or DER), that CA alone as the trust anchor, and must name
    /// the host connected to (<c>sslHost</c>, else the endpoint's host). Nothing else is accepted.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file holds no certificate.</exception>
    public static RemoteCertificateValidationCallback CreateValidation(string caPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(caPath);
        X509Certificate2 authority;
        try
        {
            authority = X509CertificateLoader.LoadCertificateFromFile(caPath);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{CaPathKey} '{caPath}' could not be read as a certificate (PEM or DER): {ex.Message}", ex);
        }

        var validator = new PeerCertificateValidator(authority, []);
        return (_, certificate, chain, errors) =>

            // The chain is judged against the CA below, so only a chain error may be overlooked here: a missing
            // certificate or a name mismatch refuses the server whatever its issuer.
            certificate is X509Certificate2 server
            && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None
            && validator.IsTrusted(server, chain);
    }
}
