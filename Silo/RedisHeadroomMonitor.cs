using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Silo;

/// <summary>
/// Reads Redis <c>used_memory</c> and <c>maxmemory</c> once a second into <see cref="StorageHeadroom"/>. With Redis on
/// <c>noeviction</c> a full Redis fails every write, running jobs' outcomes included; refusing new jobs above
/// <see cref="JobsOptions.RedisMemoryHighWatermark"/> keeps the rest for the jobs already accepted.
/// </summary>
public sealed partial class RedisHeadroomMonitor(string connectionString, StorageHeadroom headroom, IOptions<JobsOptions> options,
    ILogger<RedisHeadroomMonitor> logger, string? tlsCaPath = null) : BackgroundService
{
    /// <summary>How often Redis is asked.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var connection = await SiloSetup.ConnectAdminAsync(connectionString, tlsCaPath);
        using var timer = new PeriodicTimer(Period);
        var wasFull = false;
        do
        {
            try
            {
                var server = connection.GetServers().FirstOrDefault(s => s.IsConnected);
                if (server is null)
                {
                    continue;
                }

                var memory = (await server.InfoAsync("memory")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
                var reading = headroom.Record(Bytes(memory, "used_memory"), Bytes(memory, "maxmemory"), options.Value.RedisMemoryHighWatermark);
                if (reading.AboveWatermark != wasFull)
                {
                    wasFull = reading.AboveWatermark;
                    if (wasFull)
                    {
                        LogAboveWatermark(logger, reading.UsedBytes, reading.MaxBytes, reading.Watermark);
                    }
                    else
                    {
                        LogBelowWatermark(logger, reading.UsedBytes, reading.MaxBytes, reading.Watermark);
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Redis away (enqueues then fail on their own writes): keep the last reading. A monitor that threw would
                // stop the whole silo host.
                LogUnreadable(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private static long Bytes(Dictionary<string, string> memory, string key) =>
        memory.TryGetValue(key, out var value) && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var bytes) ? bytes : 0;

    [LoggerMessage(130, LogLevel.Warning, "Redis memory above the high watermark ({UsedBytes} of maxmemory {MaxBytes} bytes, watermark {Watermark:P0}): new jobs are refused with 503 until it is below")]
    private static partial void LogAboveWatermark(ILogger logger, long usedBytes, long maxBytes, double watermark);

    [LoggerMessage(131, LogLevel.Information, "Redis memory below the high watermark again ({UsedBytes} of maxmemory {MaxBytes} bytes, watermark {Watermark:P0}): new jobs are accepted")]
    private static partial void LogBelowWatermark(ILogger logger, long usedBytes, long maxBytes, double watermark);

    [LoggerMessage(132, LogLevel.Debug, "Could not read Redis memory: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string reason);
}
