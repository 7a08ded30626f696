using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>
/// A throw-away certificate authority and the certificates it signs, written to a temporary directory as the files the
/// <c>Orleans:Tls</c> settings name (PKCS#12 with a password for a certificate, DER for the CA).
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(X509Certificate2 authority, string directory)
    {
        Authority = authority;
        Directory = directory;
        CaPath = Path.Combine(directory, "ca.crt");
        File.WriteAllBytes(CaPath, authority.Export(X509ContentType.Cert));
    }

    /// <summary>The CA certificate, with its private key.</summary>
    public X509Certificate2 Authority { get; }

    public string Directory { get; }

    /// <summary>The CA certificate file (DER), for <c>Orleans:Tls:CaPath</c>.</summary>
    public string CaPath { get; }

    /// <summary>The password of every PKCS#12 file written here.</summary>
    public string Password { get; } = $"cert-{Guid.NewGuid():N}";

    public static TestCertificates CreateAuthority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return new TestCertificates(authority, System.IO.Directory.CreateTempSubdirectory("orleanstasks-certs-").FullName);
    }

    /// <summary>A certificate for <paramref name="name"/> signed by this CA, usable as TLS server and client; returns its PKCS#12 path.</summary>
    public string Issue(string name)
    {
        var certificate = Sign(name, Authority);
        var path = Path.Combine(Directory, $"{name}.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, Password));
        return path;
    }

    /// <summary>As <see cref="Issue"/>, as one PEM file holding the certificate and its unencrypted key.</summary>
    public string IssuePem(string name)
    {
        using var certificate = Sign(name, Authority);
        using var key = certificate.GetECDsaPrivateKey()!;
        var path = Path.Combine(Directory, $"{name}.pem");
        File.WriteAllText(path, certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n");
        return path;
    }

    /// <summary>The CA certificate as a PEM file.</summary>
    public string WriteCaPem()
    {
        var path = Path.Combine(Directory, "ca.pem");
        File.WriteAllText(path, Authority.ExportCertificatePem());
        return path;
    }

    /// <summary>A certificate signed by this CA, in memory.</summary>
    public X509Certificate2 IssueInMemory(string name) => Sign(name, Authority);

    private static X509Certificate2 Sign(string name, X509Certificate2 authority)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], critical: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        using var signed = request.Create(authority, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddMonths(6), serial);
        return signed.CopyWithPrivateKey(key);
    }

    public void Dispose()
    {
        Authority.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Leftover temp files are harmless.
        }
    }
}
