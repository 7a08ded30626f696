using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>A real redis-server on a free loopback port, in a throw-away directory, stopped with the test run.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string[] _arguments;
    private Process _process;
    private bool _paused;

    private RedisServer(Process process, int port, string? password, string directory, string[] arguments, ConnectionMultiplexer connection)
    {
        _process = process;
        _directory = directory;
        _arguments = arguments;
        Port = port;
        Password = password;
        Connection = connection;
    }

    public int Port { get; }

    /// <summary>The <c>requirepass</c> password, or null when the server asks for none (the default).</summary>
    public string? Password { get; }

    /// <summary>The StackExchange.Redis connection string, carrying <c>password=</c> when the server has one.</summary>
    public string ConnectionString => Password is null ? $"127.0.0.1:{Port}" : $"127.0.0.1:{Port},password={Password}";

    /// <summary>An admin connection for tests that read keys directly.</summary>
    public ConnectionMultiplexer Connection { get; }

    public IDatabase Database => Connection.GetDatabase();

    public static Task<RedisServer> StartAsync(params string[] extraArguments) => StartCoreAsync(password: null, extraArguments);

    /// <summary>A server with <c>requirepass <paramref name="password"/></c>: every client must authenticate.</summary>
    public static Task<RedisServer> StartWithPasswordAsync(string password, params string[] extraArguments) =>
        StartCoreAsync(password, ["--requirepass", password, .. extraArguments]);

    private static async Task<RedisServer> StartCoreAsync(string? password, string[] extraArguments)
    {
        var port = FreePort();
        var directory = Directory.CreateTempSubdirectory("orleanstasks-redis-").FullName;

        // Later arguments win in redis-server, so extraArguments may override these defaults.
        string[] arguments = ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory,
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no", .. extraArguments];
        var process = Launch(arguments);
        var connection = await Poll.UntilAsync(async () =>
        {
            try
            {
                var options = ConfigurationOptions.Parse($"127.0.0.1:{port}");
                options.Password = password;
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
            : new RedisServer(process, port, password, directory, arguments, connection);
    }

    /// <summary>A graceful SHUTDOWN, as an operator's restart does: with AOF on, everything written survives.</summary>
    public async Task ShutdownAsync()
    {
        try
        {
            await Connection.GetServers().Single().ExecuteAsync("SHUTDOWN");
        }
        catch (RedisException)
        {
            // The server closes the connection instead of answering.
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Starts the server again on the same port and directory (so it reloads its AOF).</summary>
    public async Task StartAgainAsync()
    {
        _process.Dispose();
        _process = Launch(_arguments);
        await Poll.UntilAsync(async () =>
        {
            try
            {
                return (await Database.PingAsync()) > TimeSpan.Zero;
            }
            catch (RedisException)
            {
                return false;
            }
        }, ok => ok, TimeSpan.FromSeconds(30), "redis-server to come back");
    }

    /// <summary>
    /// SIGSTOP: the server keeps its connections open but answers nothing, as a Redis stuck on a slow disk or
    /// swapping does. Always pair with <see cref="Resume"/> (disposal resumes too).
    /// </summary>
    public void Pause()
    {
        Signal("-STOP");
        _paused = true;
    }

    /// <summary>SIGCONT: the paused server answers again, the commands queued meanwhile first.</summary>
    public void Resume()
    {
        if (_paused)
        {
            Signal("-CONT");
            _paused = false;
        }
    }

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill {signal} {_process.Id} exited with {kill.ExitCode}.");
        }
    }

    private static Process Launch(string[] arguments)
    {
        var binary = FindBinary()
            ?? throw new InvalidOperationException("redis-server is not installed; ./test.sh installs it (apt-get install redis-server).");
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        // Never leave a stopped redis-server behind, even when the test failed while it was paused.
        if (!_process.HasExited)
        {
            Resume();
        }

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
