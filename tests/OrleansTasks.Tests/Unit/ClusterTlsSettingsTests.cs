using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Unit;

/// <summary>The <c>Orleans:Tls</c> settings and the peer check they build: a CA or thumbprints, never any certificate.</summary>
public sealed class ClusterTlsSettingsTests : IDisposable
{
    private readonly TestCertificates _cluster = TestCertificates.CreateAuthority("cluster CA");
    private readonly TestCertificates _other = TestCertificates.CreateAuthority("other CA");

    [Fact]
    public void APeerIsTrustedOnlyWhenItsCertificateChainsToTheConfiguredCa()
    {
        var validator = new PeerCertificateValidator(X509CertificateLoader.LoadCertificateFromFile(_cluster.CaPath), []);
        using var member = _cluster.IssueInMemory("member");
        using var stranger = _other.IssueInMemory("stranger");
        Assert.True(validator.IsTrusted(member));
        Assert.False(validator.IsTrusted(stranger));

        // The other CA's own (self-signed) certificate is no more trusted than what it signs.
        Assert.False(validator.IsTrusted(_other.Authority));
    }

    [Fact]
    public void AConfiguredThumbprintAdmitsThatCertificateAndNoOther()
    {
        using var pinned = _other.IssueInMemory("pinned");
        using var unpinned = _other.IssueInMemory("unpinned");
        var sha256 = Convert.ToHexString(pinned.GetCertHash(HashAlgorithmName.SHA256)).ToLowerInvariant();
        Assert.True(new PeerCertificateValidator(null, [sha256]).IsTrusted(pinned));
        Assert.True(new PeerCertificateValidator(null, [pinned.Thumbprint]).IsTrusted(pinned));
        Assert.False(new PeerCertificateValidator(null, [sha256]).IsTrusted(unpinned));
    }

    [Fact]
    public void AValidatorWithNeitherCaNorThumbprintsCannotBeMade()
    {
        Assert.Throws<ArgumentException>(() => new PeerCertificateValidator(null, []));
    }

    [Fact]
    public void ACertificateWithoutCaOrThumbprintsStopsStartUpNamingTheKeys()
    {
        var certificate = _cluster.Issue("silo");
        var error = Assert.Throws<OptionsValidationException>(() => Bind(new() { ["Orleans:Tls:CertificatePath"] = certificate }));
        Assert.Contains(error.Failures, f => f.Contains("Orleans:Tls:CaPath", StringComparison.Ordinal) && f.Contains("Orleans:Tls:Thumbprints", StringComparison.Ordinal));
    }

    [Fact]
    public void MissingFilesAndMalformedThumbprintsStopStartUpNamingEachKey()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Bind(new()
        {
            ["Orleans:Tls:CertificatePath"] = "/nonexistent/silo.pfx",
            ["Orleans:Tls:CaPath"] = "/nonexistent/ca.crt",
            ["Orleans:Tls:Thumbprints:0"] = "not-hex",
        }));
        Assert.Contains(error.Failures, f => f.Contains("Orleans:Tls:CertificatePath", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Orleans:Tls:CaPath names no file", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("not-hex", StringComparison.Ordinal));
    }

    [Fact]
    public void TlsIsOffByDefaultAndEverySettingBindsFromItsKey()
    {
        Assert.False(Bind([]).Tls.Enabled);
        var certificate = _cluster.Issue("silo");
        var tls = Bind(new()
        {
            ["Orleans:Tls:CertificatePath"] = certificate,
            ["Orleans:Tls:CertificatePassword"] = _cluster.Password,
            ["Orleans:Tls:CaPath"] = _cluster.CaPath,
            ["Orleans:Tls:Thumbprints:0"] = new string('A', 64),
        }).Tls;
        Assert.True(tls.Enabled);
        Assert.Equal((certificate, _cluster.Password, _cluster.CaPath), (tls.CertificatePath, tls.CertificatePassword, tls.CaPath));
        Assert.Equal([new string('A', 64)], tls.Thumbprints);
        using var loaded = tls.LoadCertificate();
        Assert.True(loaded.HasPrivateKey);
        Assert.Equal("CN=cluster CA", tls.CreateValidator().AuthoritySubject);
    }

    [Fact]
    public void APemCertificateWithItsKeyAndAPemCaLoadToo()
    {
        var tls = Bind(new()
        {
            ["Orleans:Tls:CertificatePath"] = _cluster.IssuePem("silo"),
            ["Orleans:Tls:CaPath"] = _cluster.WriteCaPem(),
        }).Tls;
        using var loaded = tls.LoadCertificate();
        Assert.True(loaded.HasPrivateKey);
        Assert.True(tls.CreateValidator().IsTrusted(loaded));
    }

    private static ClusterSettings Bind(Dictionary<string, string?> values) =>
        ClusterSettings.Bind(new ConfigurationBuilder().AddInMemoryCollection(values).Build());

    public void Dispose()
    {
        _cluster.Dispose();
        _other.Dispose();
    }
}
