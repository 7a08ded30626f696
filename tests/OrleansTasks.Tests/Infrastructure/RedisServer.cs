using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>A real redis-server on a free loopback port, in a throw-away directory, stopped with the test run.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private RedisServer(Process process, int port, string directory, ConnectionMultiplexer connection)
    {
        _process = process;
        _directory = directory;
        Port = port;
        Connection = connection;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>An admin connection for tests that read keys directly.</summary>
    public ConnectionMultiplexer Connection { get; }

    public IDatabase Database => Connection.GetDatabase();

    public static async Task<RedisServer> StartAsync(params string[] extraArguments)
    {
        var binary = FindBinary()
            ?? throw new InvalidOperationException("redis-server is not installed; ./test.sh installs it (apt-get install redis-server).");
        var port = FreePort();
        var directory = Directory.CreateTempSubdirectory("orleanstasks-redis-").FullName;
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Later arguments win in redis-server, so extraArguments may override these defaults.
        foreach (var argument in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory,
                     "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no" }.Concat(extraArguments))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var connection = await Poll.UntilAsync(async () =>
        {
            try
            {
                var options = ConfigurationOptions.Parse($"127.0.0.1:{port}");
                options.AllowAdmin = true;
                options.ConnectTimeout = 500;
                return await ConnectionMultiplexer.ConnectAsync(options);
            }
            catch (RedisConnectionException)
            {
                return null;
            }
        }, c => c is not null || process.HasExited, TimeSpan.FromSeconds(20), "redis-server to accept connections");

        return process.HasExited || connection is null
            ? throw new InvalidOperationException($"redis-server exited with code {process.ExitCode}.")
            : new RedisServer(process, port, directory, connection);
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Leftover temp files are harmless.
        }
    }

    private static string? FindBinary() =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin").Append("/usr/local/bin")
            .Select(dir => Path.Combine(dir, "redis-server"))
            .FirstOrDefault(File.Exists);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One redis-server for all Redis-backed tests; each test uses its own ServiceId, so keys never collide.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
