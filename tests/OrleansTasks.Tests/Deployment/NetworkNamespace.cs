using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace OrleansTasks.Tests.Deployment;

/// <summary>
/// A network namespace of the test's own, so processes that advertise a non-loopback address talk only to hosts
/// the test created: inside, <c>lo</c> and (optionally) one end of a veth pair at <see cref="InsideAddress"/>; outside,
/// the other end at <see cref="HostAddress"/>. Needs root (CI runs as root).
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    /// <summary>The host's end of the veth pair.</summary>
    public const string HostAddress = "10.250.0.1";

    /// <summary>The namespace's end of the veth pair: what the processes inside advertise.</summary>
    public const string InsideAddress = "10.250.0.2";

    private const string Prefix = "orleanstasks-";

    // Two test runs at once (two worktrees) would both put 10.250.0.1/24 on the host: one run at a time. The lock
    // is a file lock, so a crashed run releases it with its process.
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), "orleanstasks-netns.lock");

    private readonly FileStream _lock;
    private readonly List<Process> _processes = [];
    private bool _disposed;

    private NetworkNamespace(string name, string hostLink, FileStream hostLock)
    {
        Name = name;
        HostLink = hostLink;
        _lock = hostLock;
    }

    /// <summary>Unique per run (it carries the owning process id, which is how leftovers of crashed runs are found).</summary>
    public string Name { get; }

    private string HostLink { get; }

    private string EtcDirectory => Path.Combine("/etc/netns", Name);

    /// <summary>
    /// Creates the namespace with <c>lo</c> up and, when <paramref name="withVeth"/>, the veth pair; <paramref name="hosts"/>
    /// become the namespace's /etc/hosts (<c>ip netns exec</c> bind-mounts /etc/netns/&lt;name&gt;/hosts over it).
    /// </summary>
    public static async Task<NetworkNamespace> CreateAsync(bool withVeth, IReadOnlyDictionary<string, string>? hosts = null)
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("This test creates a network namespace and must run as root (CI does).");
        }

        var hostLock = await Infrastructure.Poll.UntilAsync(() => Task.FromResult(TryLock()), l => l is not null,
            TimeSpan.FromMinutes(10), $"the lock {LockPath} held by another test run");
        await RemoveLeftoversAsync();
        var id = Guid.NewGuid().ToString("N")[..8];
        var ns = new NetworkNamespace($"{Prefix}{Environment.ProcessId}-{id}", $"ot{id}h", hostLock!);
        try
        {
            await RunAsync("ip", "netns", "add", ns.Name);
            await RunAsync("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
            if (withVeth)
            {
                var inside = $"ot{id}n";
                await RunAsync("ip", "link", "add", ns.HostLink, "type", "veth", "peer", "name", inside, "netns", ns.Name);
                await RunAsync("ip", "addr", "add", $"{HostAddress}/24", "dev", ns.HostLink);
                await RunAsync("ip", "link", "set", ns.HostLink, "up");
                await RunAsync("ip", "netns", "exec", ns.Name, "ip", "addr", "add", $"{InsideAddress}/24", "dev", inside);
                await RunAsync("ip", "netns", "exec", ns.Name, "ip", "link", "set", inside, "up");
            }

            Directory.CreateDirectory(ns.EtcDirectory);
            var lines = new List<string> { "127.0.0.1 localhost" };
            lines.AddRange((hosts ?? new Dictionary<string, string>()).Select(h => $"{h.Value} {h.Key}"));
            await File.WriteAllLinesAsync(Path.Combine(ns.EtcDirectory, "hosts"), lines);
            return ns;
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts <paramref name="fileName"/> inside the namespace with exactly <paramref name="environment"/> (plus PATH and HOME).</summary>
    public ProcessOutput Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment.Clear();
        foreach (var inherited in new[] { "PATH", "HOME", "DOTNET_ROOT" })
        {
            if (Environment.GetEnvironmentVariable(inherited) is { } value)
            {
                start.Environment[inherited] = value;
            }
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        foreach (var argument in (string[])["netns", "exec", Name, fileName, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start.");
        lock (_processes)
        {
            _processes.Add(process);
        }

        return new ProcessOutput(process);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            List<Process> processes;
            lock (_processes)
            {
                processes = [.. _processes];
            }

            foreach (var process in processes)
            {
                await StopAsync(process);
            }

            await RemoveAsync(Name, HostLink);
        }
        finally
        {
            await _lock.DisposeAsync();
        }
    }

    private static async Task StopAsync(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
        finally
        {
            process.Dispose();
        }
    }

    private static async Task RemoveAsync(string name, string? hostLink)
    {
        // Deleting the namespace destroys the veth end inside it, and with it the pair; the explicit link delete is
        // for the window where the pair exists but the peer never moved in.
        await TryRunAsync("ip", "netns", "del", name);
        if (hostLink is not null)
        {
            await TryRunAsync("ip", "link", "del", hostLink);
        }

        try
        {
            Directory.Delete(Path.Combine("/etc/netns", name), recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Never created.
        }
    }

    /// <summary>Namespaces of runs whose process is gone (a crash skips the dispose): without them the host route is unambiguous.</summary>
    private static async Task RemoveLeftoversAsync()
    {
        var list = await RunAsync("ip", "netns", "list");
        foreach (var name in list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var owner = name[Prefix.Length..].Split('-')[0];
            if (int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                await RemoveAsync(name, hostLink: null);
            }
        }
    }

    private static FileStream? TryLock()
    {
        try
        {
            return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task TryRunAsync(params string[] command)
    {
        try
        {
            await RunAsync(command);
        }
        catch (InvalidOperationException)
        {
            // Cleanup of something that may already be gone.
        }
    }

    private static async Task<string> RunAsync(params string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command[1..])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return process.ExitCode == 0
            ? stdout
            : throw new InvalidOperationException($"`{string.Join(' ', command)}` exited with {process.ExitCode}: {await stderr}");
    }
}

/// <summary>A started process and every line it wrote, for assertions and failure messages.</summary>
public sealed class ProcessOutput
{
    private readonly ConcurrentQueue<string> _lines = new();

    public ProcessOutput(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        Process = process;
        process.OutputDataReceived += (_, e) => _lines.Enqueue(e.Data ?? string.Empty);
        process.ErrorDataReceived += (_, e) => _lines.Enqueue(e.Data ?? string.Empty);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Text => string.Join('\n', _lines);
}
