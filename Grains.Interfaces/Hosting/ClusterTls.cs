using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansTasks.Hosting;

/// <summary>
/// The <c>Orleans:Tls</c> settings: TLS with mutual authentication on the silo-to-silo and client-to-gateway
/// connections. Off unless <see cref="CertificatePath"/> is set; then every peer must present a certificate that chains
/// to <see cref="CaPath"/> or whose thumbprint is in <see cref="Thumbprints"/>, and no other certificate is accepted.
/// </summary>
public sealed class ClusterTls
{
    /// <summary>The configuration section bound to this class.</summary>
    public const string SectionName = $"{ClusterSettings.SectionName}:Tls";

    /// <summary>
    /// This process's own certificate with its private key: a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>), or a PEM file
    /// holding the certificate and its key. It is presented both as a server (silo and gateway ports) and as a client
    /// (connections to other silos and to gateways). Default: unset, TLS off.
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>The password of <see cref="CertificatePath"/> (PKCS#12 password, or of an encrypted PEM key). Default: none.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// The certificate (PEM or DER) of the certificate authority that signs the cluster's certificates. A peer is
    /// accepted when its certificate chains to this CA and nothing else: the system's trusted roots play no part, so use
    /// a CA dedicated to this cluster. Default: unset.
    /// </summary>
    public string? CaPath { get; set; }

    /// <summary>
    /// SHA-1 or SHA-256 thumbprints (hex) of peer certificates accepted as they are, beside or instead of
    /// <see cref="CaPath"/> (e.g. self-signed certificates): a list (<c>Orleans:Tls:Thumbprints:0</c>, ...) or one value
    /// separated by commas (<see cref="OptionsBinding"/>). Default: none.
    /// </summary>
    public IList<string> Thumbprints { get; } = [];

    /// <summary>True when the cluster's connections use TLS.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);

    /// <summary>The configuration keys of this section.</summary>
    public static IReadOnlyList<string> Keys { get; } =
        [$"{SectionName}:CertificatePath", $"{SectionName}:CertificatePassword", $"{SectionName}:CaPath", $"{SectionName}:Thumbprints"];

    /// <summary>The problems of these settings, each naming its key; empty when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Enabled)
        {
            if (!string.IsNullOrWhiteSpace(CaPath) || Thumbprints.Count > 0)
            {
                yield return $"{SectionName}:CaPath or :Thumbprints is set but {SectionName}:CertificatePath is not: TLS needs this process's own certificate.";
            }

            yield break;
        }

        if (!File.Exists(CertificatePath))
        {
            yield return $"{SectionName}:CertificatePath names no file: '{CertificatePath}'.";
        }

        if (string.IsNullOrWhiteSpace(CaPath) && Thumbprints.Count == 0)
        {
            // Never "any certificate": without a CA or thumbprints anyone could join the cluster with a certificate of their own.
            yield return $"{SectionName}:CertificatePath is set but neither {SectionName}:CaPath nor {SectionName}:Thumbprints is: " +
                "without them no peer certificate could be checked.";
        }

        if (!string.IsNullOrWhiteSpace(CaPath) && !File.Exists(CaPath))
        {
            yield return $"{SectionName}:CaPath names no file: '{CaPath}'.";
        }

        foreach (var thumbprint in Thumbprints.Where(t => Normalize(t) is not { Length: 40 or 64 } || !Normalize(t).All(char.IsAsciiHexDigit)))
        {
            yield return $"{SectionName}:Thumbprints holds '{thumbprint}', which is not a SHA-1 (40) or SHA-256 (64) hex thumbprint.";
        }
    }

    /// <summary>Loads <see cref="CertificatePath"/> with its private key.</summary>
    /// <exception cref="InvalidOperationException">TLS is off, or the file holds no private key.</exception>
    public X509Certificate2 LoadCertificate()
    {
        var path = CertificatePath ?? throw new InvalidOperationException($"{SectionName}:CertificatePath is not set.");
        var pem = File.ReadAllText(path).Contains("-----BEGIN", StringComparison.Ordinal);
        var certificate = (pem, CertificatePassword) switch
        {
            (true, { Length: > 0 } password) => X509Certificate2.CreateFromEncryptedPemFile(path, password),
            (true, _) => X509Certificate2.CreateFromPemFile(path),
            (false, var password) => X509CertificateLoader.LoadPkcs12FromFile(path, password),
        };
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"{SectionName}:CertificatePath '{path}' holds no private key: this process could not prove it owns the certificate.");
        }

        return certificate;
    }

    /// <summary>The check every peer certificate must pass, built from <see cref="CaPath"/> and <see cref="Thumbprints"/>.</summary>
    public PeerCertificateValidator CreateValidator() =>
        new(string.IsNullOrWhiteSpace(CaPath) ? null : X509CertificateLoader.LoadCertificateFromFile(CaPath), Thumbprints.Select(Normalize));

    internal static string Normalize(string thumbprint) =>
        string.Concat(thumbprint.Where(c => !char.IsWhiteSpace(c) && c != ':').Select(char.ToUpperInvariant));
}

/// <summary>
/// Accepts a peer certificate only when it chains to the cluster's CA (that CA alone as the trust anchor) or its
/// thumbprint is configured. Host names are not checked: silos reach each other by address, and the dedicated CA is
/// what says who belongs to the cluster.
/// </summary>
public sealed class PeerCertificateValidator
{
    private readonly X509Certificate2? _authority;
    private readonly HashSet<string> _thumbprints;

    /// <summary>Creates a validator; <paramref name="authority"/> or <paramref name="thumbprints"/> must admit someone.</summary>
    /// <exception cref="ArgumentException">Neither a CA nor a thumbprint is given.</exception>
    public PeerCertificateValidator(X509Certificate2? authority, IEnumerable<string> thumbprints)
    {
        _authority = authority;
        _thumbprints = new HashSet<string>(thumbprints.Select(ClusterTls.Normalize), StringComparer.Ordinal);
        if (_authority is null && _thumbprints.Count == 0)
        {
            throw new ArgumentException("A peer certificate validator needs a CA or at least one thumbprint; it never accepts any certificate.");
        }
    }

    /// <summary>The CA's subject, for the start-up log; null when only thumbprints are configured.</summary>
    public string? AuthoritySubject => _authority?.Subject;

    /// <summary>
    /// True when <paramref name="certificate"/> may be a peer of this cluster. <paramref name="presented"/> is the chain
    /// the TLS layer built from what the peer sent: its intermediates may help build the chain, never anchor it.
    /// </summary>
    public bool IsTrusted(X509Certificate2 certificate, X509Chain? presented = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (_thumbprints.Count > 0
            && (_thumbprints.Contains(certificate.Thumbprint.ToUpperInvariant())
                || _thumbprints.Contains(Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256)))))
        {
            return true;
        }

        if (_authority is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority);

        // A private cluster CA publishes no revocation lists; expiry and signatures are still checked.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (!chain.Build(certificate))
        {
            return false;
        }

        // CustomRootTrust already anchors the chain in the custom store; checking the root explicitly keeps that true
        // even if the policy were changed.
        var root = chain.ChainElements[^1].Certificate;
        return root.RawDataMemory.Span.SequenceEqual(_authority.RawDataMemory.Span);
    }
}
