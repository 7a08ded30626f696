using System.Security.Cryptography;
using System.Text;

namespace OrleansTasks.Webhooks;

/// <summary>The signature a receiver checks: <c>sha256=</c> and the lower-case hex HMAC-SHA256 of the exact body bytes.</summary>
public static class WebhookSigner
{
    /// <summary>The header carrying <see cref="Sign"/>'s value.</summary>
    public const string SignatureHeader = "X-OrleansTasks-Signature";

    /// <summary>The header carrying the delivery id: the delivery job's id, the same on every retry of it.</summary>
    public const string DeliveryHeader = "X-OrleansTasks-Delivery";

    /// <summary>The header carrying the unix time (seconds) this attempt was sent. Not covered by the signature.</summary>
    public const string TimestampHeader = "X-OrleansTasks-Timestamp";

    /// <summary><c>sha256=&lt;hex&gt;</c> of <paramref name="body"/> keyed with the UTF-8 bytes of <paramref name="secret"/>.</summary>
    public static string Sign(string secret, ReadOnlySpan<byte> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
    }

    /// <summary>True when <paramref name="signature"/> is <see cref="Sign"/>'s value for the body (constant time).</summary>
    public static bool Verify(string secret, ReadOnlySpan<byte> body, string? signature) =>
        signature is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(secret, body)), Encoding.ASCII.GetBytes(signature));
}
