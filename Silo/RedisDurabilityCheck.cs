using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace OrleansTasks.Silo;

/// <summary>
/// Reads the Redis server's eviction and persistence settings at start-up and warns loudly when they can lose jobs:
/// an evicted key is a lost job, and a Redis restarted without persistence forgets every job and reminder.
/// </summary>
public sealed partial class RedisDurabilityCheck(string connectionString, ILogger<RedisDurabilityCheck> logger, string? tlsCaPath = null) : IHostedService
{
    /// <summary>The problems with these server settings, empty when Redis keeps jobs safe.</summary>
    public static IReadOnlyList<string> Assess(string? maxMemoryPolicy, string? appendOnly, string? save)
    {
        var problems = new List<string>();
        if (!string.Equals(maxMemoryPolicy, "noeviction", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"maxmemory-policy is '{maxMemoryPolicy ?? "unknown"}', not 'noeviction': under memory pressure Redis may evict job state or reminders, losing jobs.");
        }

        var aof = string.Equals(appendOnly, "yes", StringComparison.OrdinalIgnoreCase);
        var rdb = !string.IsNullOrWhiteSpace(save);
        if (!aof && !rdb)
        {
            problems.Add("neither AOF (appendonly) nor RDB snapshots (save) are enabled: a Redis restart loses every job and reminder.");
        }

        return problems;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            // CONFIG GET is an admin command; this short-lived connection is the only one allowed to send it.
            using var connection = await SiloSetup.ConnectAdminAsync(connectionString, tlsCaPath);
            var server = connection.GetServers().FirstOrDefault(s => s.IsConnected);
            if (server is null)
            {
                LogUnchecked(logger, "no Redis server is connected yet");
                return;
            }

            var config = (await server.ConfigGetAsync("*")).ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
            var problems = Assess(config.GetValueOrDefault("maxmemory-policy"), config.GetValueOrDefault("appendonly"), config.GetValueOrDefault("save"));
            foreach (var problem in problems)
            {
                LogUnsafe(logger, server.EndPoint.ToString() ?? "redis", problem);
            }

            if (problems.Count == 0)
            {
                LogSafe(logger, server.EndPoint.ToString() ?? "redis");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // CONFIG may be disabled on managed Redis; that is no reason to refuse to start.
            LogUnchecked(logger, ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(110, LogLevel.Critical, "UNSAFE REDIS at {Endpoint}: {Problem} Set 'maxmemory-policy noeviction' and 'appendonly yes'.")]
    private static partial void LogUnsafe(ILogger logger, string endpoint, string problem);

    [LoggerMessage(111, LogLevel.Information, "Redis at {Endpoint} keeps jobs safe: noeviction and persistence on")]
    private static partial void LogSafe(ILogger logger, string endpoint);

    [LoggerMessage(112, LogLevel.Warning, "Could not check Redis durability settings ({Reason}); make sure maxmemory-policy is noeviction and AOF or RDB is on")]
    private static partial void LogUnchecked(ILogger logger, string reason);
}
