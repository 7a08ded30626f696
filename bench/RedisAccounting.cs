using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace OrleansTasks.Bench;

/// <summary>What Redis ran in a window, split by who asked: commands clients sent, and commands scripts ran inside Redis.</summary>
/// <param name="Sent">Per command, the commands clients sent (each is one request and one reply; a script call is one).</param>
/// <param name="InScripts">Per command, the commands scripts called with <c>redis.call</c>.</param>
/// <param name="Bench">Commands the benchmark's own observer connections sent (not counted in <paramref name="Sent"/>).</param>
/// <param name="NotMonitored">Commands <c>INFO commandstats</c> counted in the window that MONITOR did not show (admin commands, the window's own markers).</param>
public sealed record RedisTally(IReadOnlyDictionary<string, long> Sent, IReadOnlyDictionary<string, long> InScripts, long Bench, long NotMonitored)
{
    public long SentTotal => Sent.Values.Sum();

    public long InScriptsTotal => InScripts.Values.Sum();

    public static string Describe(IReadOnlyDictionary<string, long> perCommand, double jobs) => string.Join(", ", perCommand
        .Select(c => (c.Key, PerJob: c.Value / jobs)).Where(c => c.PerJob >= 0.01).OrderByDescending(c => c.PerJob).ThenBy(c => c.Key, StringComparer.Ordinal)
        .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} {c.PerJob:0.##}")));
}

/// <summary>
/// Counts round trips and commands run inside scripts separately. Redis 7 counts a command a script calls under its
/// own name in <c>INFO commandstats</c>, and in <c>total_commands_processed</c> too, so neither tells a client's
/// HMGET from a script's. MONITOR does: it tags every command with its source, the client's address or
/// <c>lua</c> for a script's. MONITOR slows Redis down, so the bench watches a separate batch, never a timed one.
/// The window is delimited by ECHO markers sent after MONITOR is on, and checked against <c>INFO commandstats</c>.
/// </summary>
public sealed class RedisAccounting : IAsyncDisposable
{
    /// <summary>Client name of the bench's own Redis connections: their commands are not the system's.</summary>
    public const string ObserverName = "bench-observer";

    private readonly TcpClient _monitor;
    private readonly ConnectionMultiplexer _observer;
    private readonly IServer _server;
    private readonly string _start = $"bench-accounting-start-{Guid.NewGuid():N}";
    private readonly string _end = $"bench-accounting-end-{Guid.NewGuid():N}";
    private readonly Dictionary<(string Source, string Command), long> _counts = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;
    private Dictionary<string, long> _statsBefore = [];

    private RedisAccounting(TcpClient monitor, ConnectionMultiplexer observer)
    {
        _monitor = monitor;
        _observer = observer;
        _server = observer.GetServers().Single();
        _reader = Task.Run(ReadAsync);
    }

    /// <summary>Starts watching; every command Redis runs from now until <see cref="StopAsync"/> is counted.</summary>
    public static async Task<RedisAccounting> StartAsync(EndPoint redis)
    {
        var (host, port) = redis switch
        {
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            DnsEndPoint dns => (dns.Host, dns.Port),
            _ => throw new ArgumentException($"unsupported endpoint {redis}", nameof(redis)),
        };
        var observer = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { redis }, ClientName = ObserverName, AllowAdmin = true });
        var monitor = new TcpClient();
        await monitor.ConnectAsync(host, port);
        await monitor.GetStream().WriteAsync("CLIENT SETNAME bench-observer\r\nMONITOR\r\n"u8.ToArray());
        var accounting = new RedisAccounting(monitor, observer);
        accounting._statsBefore = await Workloads.RedisCommandsAsync(accounting._server);
        await accounting._server.ExecuteAsync("ECHO", accounting._start);
        await accounting._started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return accounting;
    }

    /// <summary>Stops watching and returns the window's tally.</summary>
    public async Task<RedisTally> StopAsync()
    {
        await _server.ExecuteAsync("ECHO", _end);
        var statsAfter = await Workloads.RedisCommandsAsync(_server);
        await _reader.WaitAsync(TimeSpan.FromMinutes(2));

        // Addresses of the bench's own connections, named when they connected (they are all still open).
        var bench = ((string)(await _server.ExecuteAsync("CLIENT", "LIST"))!).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]))
            .Where(c => c.GetValueOrDefault("name") == ObserverName).Select(c => c["addr"]).ToHashSet(StringComparer.Ordinal);
        var sent = new Dictionary<string, long>();
        var inScripts = new Dictionary<string, long>();
        long fromBench = 0;
        foreach (var ((source, command), count) in _counts)
        {
            if (source == "lua")
            {
                inScripts[command] = inScripts.GetValueOrDefault(command) + count;
            }
            else if (bench.Contains(source))
            {
                fromBench += count;
            }
            else
            {
                sent[command] = sent.GetValueOrDefault(command) + count;
            }
        }

        var counted = statsAfter.Sum(s => s.Value - _statsBefore.GetValueOrDefault(s.Key));
        return new RedisTally(sent, inScripts, fromBench, counted - _counts.Values.Sum());
    }

    public async ValueTask DisposeAsync()
    {
        _monitor.Dispose();
        await _observer.DisposeAsync();
    }

    /// <summary>Each MONITOR line: <c>+1700000000.123456 [0 127.0.0.1:5555] "evalsha" "…"</c>, or <c>[0 lua]</c> from a script.</summary>
    private async Task ReadAsync()
    {
        var stream = _monitor.GetStream();
        var buffer = new byte[1 << 20];
        var filled = 0;
        var counting = false;
        while (true)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await stream.ReadAsync(buffer.AsMemory(filled));
            if (read == 0)
            {
                throw new InvalidOperationException("MONITOR connection closed before the end marker.");
            }

            filled += read;
            var consumed = 0;
            for (var newline = Array.IndexOf(buffer, (byte)'\n', consumed, filled - consumed); newline >= 0; newline = Array.IndexOf(buffer, (byte)'\n', consumed, filled - consumed))
            {
                var line = buffer.AsSpan(consumed, newline - consumed);
                consumed = newline + 1;
                if (line.IndexOf("bench-accounting-"u8) >= 0)
                {
                    var text = Encoding.ASCII.GetString(line);
                    if (text.Contains(_start, StringComparison.Ordinal))
                    {
                        counting = true;
                        _started.TrySetResult();
                        continue;
                    }

                    if (text.Contains(_end, StringComparison.Ordinal))
                    {
                        return;
                    }
                }

                if (counting && Parse(line) is { } entry)
                {
                    _counts[entry] = _counts.GetValueOrDefault(entry) + 1;
                }
            }

            Array.Copy(buffer, consumed, buffer, 0, filled - consumed);
            filled -= consumed;
        }
    }

    private static (string Source, string Command)? Parse(ReadOnlySpan<byte> line)
    {
        var open = line.IndexOf((byte)'[');
        var close = line.IndexOf("] \""u8);
        if (open < 0 || close < open)
        {
            return null;
        }

        var bracket = line[(open + 1)..close];
        var source = bracket[(bracket.IndexOf((byte)' ') + 1)..];
        var rest = line[(close + 3)..];
        var quote = rest.IndexOf((byte)'"');
        return quote < 0 ? null : (Encoding.ASCII.GetString(source), Encoding.ASCII.GetString(rest[..quote]).ToLowerInvariant());
    }
}
