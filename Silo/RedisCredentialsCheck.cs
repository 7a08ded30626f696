using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using OrleansTasks.Hosting;
using StackExchange.Redis;

namespace OrleansTasks.Silo;

/// <summary>
/// Fails silo start-up at once when Redis refuses its credentials. The silo's connections keep retrying an unreachable
/// Redis (it may be restarting), which for a wrong password would mean retrying forever while the log fills with
/// timeouts; a refused password never heals by waiting, so it stops the silo with a message that names the setting
/// and never the password.
/// </summary>
public sealed partial class RedisCredentialsCheck(string connectionString, ILogger<RedisCredentialsCheck> logger, string? tlsCaPath = null)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);

        // Before the job store and the providers connect (RuntimeStorageServices).
        lifecycle.Subscribe(nameof(RedisCredentialsCheck), ServiceLifecycleStage.RuntimeInitialize, CheckAsync);
    }

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        var options = RedisConnectionOptions.Create(connectionString, tlsCaPath);
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        try
        {
            using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        }
        catch (Exception ex) when (options.Ssl && IsTlsFailure(ex))
        {
            // Checked before the password: a refused certificate also reads as an authentication failure.
            var trust = string.IsNullOrWhiteSpace(tlsCaPath)
                ? $"the machine's trusted roots (set {RedisTls.CaPathKey} to the CA that signs Redis' certificate)"
                : $"the CA in {RedisTls.CaPathKey} ('{tlsCaPath}')";
            throw new OrleansConfigurationException(
                $"Redis at {options.ToString(includePassword: false)} failed the TLS handshake: its certificate must chain to {trust} and name the host " +
                $"connected to (sslHost in {ClusterSettings.RedisKey}). {ex.Message}", ex);
        }
        catch (Exception ex) when (IsAuthenticationFailure(ex))
        {
            throw new OrleansConfigurationException(
                $"Redis at {options.ToString(includePassword: false)} refused this silo's credentials (authentication failed): check the password " +
                $"(and user) in {ClusterSettings.RedisKey}. {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Unreachable for now: the providers keep trying, as they always have.
            LogUnreachable(logger, options.ToString(includePassword: false), ex.Message);
        }
    }

    /// <summary>True when <paramref name="exception"/> (or one it wraps) says Redis refused the credentials or the TLS handshake.</summary>
    public static bool IsAuthenticationFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure } or AuthenticationException
                || (e is RedisServerException && (e.Message.StartsWith("WRONGPASS", StringComparison.Ordinal) || e.Message.StartsWith("NOAUTH", StringComparison.Ordinal)))
                || e.Message.Contains("authentication failure", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="exception"/> (or one it wraps) says the TLS handshake failed, e.g. an untrusted server certificate.</summary>
    public static bool IsTlsFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException || e.Message.Contains("RemoteCertificateValidationCallback", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(120, LogLevel.Warning, "Redis at {Endpoints} is not reachable at start-up ({Reason}); the silo keeps trying")]
    private static partial void LogUnreachable(ILogger logger, string endpoints, string reason);
}
