using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using OrleansTasks.Jobs;

namespace OrleansTasks.Webhooks;

/// <summary>
/// The SSRF guard of completion webhooks. A callback URL comes from whoever may enqueue, and the silo that calls it
/// sits inside the deployment's network: without this guard a job could make the silo POST to Redis, to another
/// internal service or to the cloud metadata endpoint. Checked at enqueue on the URL, and again when the delivery
/// connects, on every address the host name resolves to (a name can resolve to anything, and change between the
/// two: DNS rebinding); the connection then goes to an address that passed the check.
/// </summary>
public sealed class WebhookAddressPolicy(WebhookOptions options)
{
    private static readonly IPNetwork[] RefusedNetworks =
    [
        IPNetwork.Parse("0.0.0.0/8"),        // "this network": 0.0.0.0 reaches the local host on Linux
        IPNetwork.Parse("10.0.0.0/8"),
        IPNetwork.Parse("100.64.0.0/10"),    // carrier-grade NAT, private in practice
        IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"),   // link-local, includes the metadata endpoint 169.254.169.254
        IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("224.0.0.0/4"),      // multicast
        IPNetwork.Parse("240.0.0.0/4"),      // reserved, includes broadcast
        IPNetwork.Parse("::/128"),
        IPNetwork.Parse("::1/128"),
        IPNetwork.Parse("fc00::/7"),         // unique local, includes AWS's IPv6 metadata endpoint fd00:ec2::254
        IPNetwork.Parse("fe80::/10"),
        IPNetwork.Parse("ff00::/8"),
    ];

    // IPv6 forms that carry an IPv4 address, checked as that IPv4 address.
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    private readonly IReadOnlySet<string> _allowed = options.AllowedHostSet;

    /// <summary>True when connecting to <paramref name="address"/> is refused for a host that is not listed.</summary>
    public static bool IsRefused(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        else if (address.AddressFamily == AddressFamily.InterNetworkV6 && Nat64.Contains(address))
        {
            address = new IPAddress(address.GetAddressBytes()[12..]);
        }

        return RefusedNetworks.Any(n => n.BaseAddress.AddressFamily == address.AddressFamily && n.Contains(address));
    }

    /// <summary>Lower case, without IPv6 brackets or a trailing dot, so list entries and URL hosts compare.</summary>
    public static string NormalizeHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.Trim().TrimStart('[').TrimEnd(']').TrimEnd('.').ToLowerInvariant();
    }

    /// <summary>True when <c>Webhooks:AllowedHosts</c> names <paramref name="host"/>.</summary>
    public bool IsListed(string host) => _allowed.Contains(NormalizeHost(host));

    /// <summary>
    /// Null when <paramref name="url"/> may be enqueued as a callback, else why not (a sentence fragment following
    /// "callbackUrl"). Needs a secret; a host outside <c>Webhooks:AllowedHosts</c> when it is set; a literal refused
    /// address or <c>localhost</c> when it is not. Other names are judged on their addresses at connect time.
    /// </summary>
    public string? CheckAtEnqueue(string url)
    {
        if (string.IsNullOrEmpty(options.Secret))
        {
            return "cannot be used: completion webhooks are off because Webhooks:Secret is not set on the silos "
                + "(set it, e.g. with the environment variable Webhooks__Secret, to a long random string).";
        }

        return CheckUrl(url);
    }

    /// <summary>As <see cref="CheckAtEnqueue"/> without the secret: the URL's own shape and host.</summary>
    public string? CheckUrl(string url)
    {
        if (CheckDestination(url) is { } problem)
        {
            return problem;
        }

        var host = new Uri(url).IdnHost;
        if (IsListed(host))
        {
            return null;
        }

        if (IPAddress.TryParse(NormalizeHost(host), out var literal) && IsRefused(literal))
        {
            return $"names the address {literal}: loopback, private, link-local and metadata addresses are refused unless listed in Webhooks:AllowedHosts.";
        }

        var name = NormalizeHost(host);
        return name == "localhost" || name.EndsWith(".localhost", StringComparison.Ordinal)
            ? $"names '{name}': loopback is refused unless listed in Webhooks:AllowedHosts."
            : null;
    }

    /// <summary>
    /// The URL's shape and, when <c>Webhooks:AllowedHosts</c> is set, its host; what the host resolves to is
    /// judged when the delivery connects (<see cref="ConnectAsync"/>).
    /// </summary>
    public string? CheckDestination(string url)
    {
        if (CallbackUrl.Validate(url) is { } problem)
        {
            return problem;
        }

        var host = new Uri(url).IdnHost;
        return _allowed.Count > 0 && !IsListed(host)
            ? $"names host '{NormalizeHost(host)}', which is not in Webhooks:AllowedHosts ({string.Join(", ", _allowed.Order(StringComparer.Ordinal))})."
            : null;
    }

    /// <summary>
    /// The connect step of the delivery's <see cref="SocketsHttpHandler"/>: resolves the host, keeps the addresses
    /// this policy allows and connects to the first that answers, so the address checked is the address used.
    /// </summary>
    /// <exception cref="WebhookRefusedException">No resolved address may be called.</exception>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var host = context.DnsEndPoint.Host;
        var listed = IsListed(host);
        if (!listed && _allowed.Count > 0)
        {
            throw new WebhookRefusedException($"Host '{NormalizeHost(host)}' is not in Webhooks:AllowedHosts.");
        }

        var addresses = IPAddress.TryParse(NormalizeHost(host), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        var usable = listed ? addresses : [.. addresses.Where(a => !IsRefused(a))];
        if (usable.Length == 0)
        {
            throw new WebhookRefusedException(
                $"Host '{NormalizeHost(host)}' resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}: loopback, private, link-local and "
                + "metadata addresses are refused unless the host is listed in Webhooks:AllowedHosts.");
        }

        SocketException? last = null;
        foreach (var address in usable)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }
}

/// <summary>The SSRF guard refused a delivery's destination: retrying cannot help.</summary>
public sealed class WebhookRefusedException : Exception
{
    public WebhookRefusedException()
    {
    }

    public WebhookRefusedException(string message) : base(message)
    {
    }

    public WebhookRefusedException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
