using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using OrleansTasks.Api.Jobs;
using OrleansTasks.Jobs;

namespace OrleansTasks.Bench;

/// <summary>
/// Live job events (issue 12): what idle open streams cost. N jobs wait far in the future, each followed by one
/// <c>GET /jobs/{id}/events</c> stream; the process (API and silo together, the bench's in-process layout) is measured
/// for CPU over the duration, against the same process idle without streams. The bar: a thousand idle streams
/// cost at most 1 % of a core.
/// </summary>
public static class SseIdleWorkload
{
    public static async Task<Dictionary<string, double>> RunAsync(string redis, int streams, TimeSpan duration)
    {
        await using var sut = await OrleansTasksSystem.StartAsync(redis);
        var jobs = sut.Services.GetRequiredService<JobClient>();
        var ids = new List<string>();
        for (var i = 0; i < streams; i++)
        {
            var result = await jobs.EnqueueAsync(new BenchNoop(0), new JobOptions { Delay = TimeSpan.FromDays(1) });
            ids.Add(result.Snapshot!.Id);
        }

        // Let the enqueue burst settle (the far-off jobs' activations go at once; garbage collection follows), then
        // measure the same process without streams: its own background (membership, reminders, statistics).
        await Task.Delay(TimeSpan.FromSeconds(10));
        var baseline = await CpuPercentOfCoreAsync(duration / 2);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = sut.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var open = new List<(HttpResponseMessage Response, StreamReader Reader)>();
        using var stop = new CancellationTokenSource();
        try
        {
            foreach (var id in ids)
            {
                var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/jobs/{id}/events"), HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                var first = await reader.ReadLineAsync();
                if (first != "event: snapshot")
                {
                    throw new InvalidOperationException($"stream of {id} began with '{first}'");
                }

                open.Add((response, reader));
            }

            // Drain each stream in the background (keep-alive comments), as a client would.
            var readers = open.Select(o => Task.Run(async () =>
            {
                while (await o.Reader.ReadLineAsync(stop.Token) is not null)
                {
                }
            })).ToList();
            var hub = sut.Services.GetRequiredService<JobEventHub>();
            await Task.Delay(TimeSpan.FromSeconds(2));
            var withStreams = await CpuPercentOfCoreAsync(duration);
            var still = hub.OpenStreams;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[bench] sse-idle: {still} open streams; CPU {withStreams:F2} % of a core over {duration.TotalSeconds:F0} s (idle without streams: {baseline:F2} %; difference {withStreams - baseline:F2} %; bar: 1 %)"));
            await stop.CancelAsync();
            await Task.WhenAll(readers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return new()
            {
                ["streams"] = still,
                ["cpuPercentOfCore"] = withStreams,
                ["idleCpuPercentOfCore"] = baseline,
                ["streamsCpuPercentOfCore"] = withStreams - baseline,
            };
        }
        finally
        {
            foreach (var (response, reader) in open)
            {
                reader.Dispose();
                response.Dispose();
            }
        }
    }

    private static async Task<double> CpuPercentOfCoreAsync(TimeSpan duration)
    {
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        process.Refresh();
        return (process.TotalProcessorTime - cpu).TotalMilliseconds / clock.Elapsed.TotalMilliseconds * 100;
    }
}
